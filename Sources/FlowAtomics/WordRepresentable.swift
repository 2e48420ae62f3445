/// A value that is exactly one machine word with no ownership of its own, so
/// that a lock-free container may copy its bits freely (DESIGN decision 2).
///
/// `WorkStealingDeque` holds only such elements: a Chase–Lev thief reads a
/// slot before it knows it has won it, so the bits it reads may belong to an
/// element another thread has already taken. Copying a word is harmless;
/// copying a strong reference would retain or release it at the wrong time.
/// Pass class instances as `Unmanaged<T>` and take ownership back only after
/// the operation that returned the word (a won pop or steal).
public protocol WordRepresentable {
    init(word: UInt)
    var word: UInt { get }
}

extension UInt: WordRepresentable {
    @inlinable public init(word: UInt) { self = word }
    @inlinable public var word: UInt { self }
}

extension Int: WordRepresentable {
    @inlinable public init(word: UInt) { self = Int(bitPattern: word) }
    @inlinable public var word: UInt { UInt(bitPattern: self) }
}

extension UnsafeMutableRawPointer: WordRepresentable {
    /// Precondition: `word` came from `UnsafeMutableRawPointer.word` (never zero).
    @inlinable public init(word: UInt) { self = UnsafeMutableRawPointer(bitPattern: word)! }
    @inlinable public var word: UInt { UInt(bitPattern: self) }
}

extension UnsafeRawPointer: WordRepresentable {
    /// Precondition: `word` came from `UnsafeRawPointer.word` (never zero).
    @inlinable public init(word: UInt) { self = UnsafeRawPointer(bitPattern: word)! }
    @inlinable public var word: UInt { UInt(bitPattern: self) }
}

extension Unmanaged: WordRepresentable {
    /// Precondition: `word` came from `Unmanaged.word` (never zero).
    @inlinable public init(word: UInt) { self = Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: word)!) }
    @inlinable public var word: UInt { UInt(bitPattern: toOpaque()) }
}
