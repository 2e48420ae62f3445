// FlowChannels connects concurrent work (issue "FlowChannels: bounded channels,
// join handles, scopes and combinators"). It will hold:
//
// - `Channel<Element>`: a bounded MPMC async channel with backpressure,
//   capacity 0 as a rendezvous, overflow policies (.suspend, .dropNewest,
//   .dropOldest, .fail) that count every drop, and noncopyable producers whose
//   deinit closes their slot (producer tracking).
// - `JoinHandle<Success>`, `withScope(on:maxConcurrency:_:)` and `Scope`
//   (spawn, spawnBlocking, child scopes, join, cancel).
// - `whenAll`, `whenAny`, `withTimeout` and `WaitGroup`.
//
// It stands on FlowExecutor and FlowWatchdog and re-exports both.
@_exported import FlowExecutor
@_exported import FlowWatchdog
