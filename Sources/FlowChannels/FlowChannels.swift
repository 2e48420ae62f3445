// FlowChannels connects concurrent work:
//
// - `Channel<Element>`: a bounded multi-producer multi-consumer async channel
//   with backpressure; capacity 0 is a rendezvous; overflow policies
//   (`.suspend`, `.dropNewest`, `.dropOldest`, `.fail`) count every drop;
//   noncopyable `Channel.Producer` handles close the channel when the last
//   one is gone; blocking variants for plain threads; `ChannelStats`.
// - `JoinHandle`, `withScope(on:maxConcurrency:errorPolicy:_:)` and `Scope`
//   (spawn, spawnBlocking, child scopes, join, cancel, producer/consumer helpers).
// - `whenAll`, `whenAny`, `withTimeout`, `WaitGroup` and `AsyncSemaphore`.
//
// It stands on FlowExecutor and FlowWatchdog and re-exports both (and,
// through them, FlowAtomics). See docs/Channels.md.
@_exported import FlowExecutor
@_exported import FlowWatchdog
