@_exported import FlowAtomics
