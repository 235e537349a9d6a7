import Foundation

/// Turns SIGINT into a callback with the number of interrupts so far (the first one
/// usually cancels the run; a second one quits at once).
public final class InterruptHandler: @unchecked Sendable {
    private let source: DispatchSourceSignal
    private var count = 0

    public init(_ handler: @escaping @Sendable (Int) -> Void) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [unowned self] in
            self.count += 1
            handler(self.count)
        }
        source.resume()
    }

    deinit { source.cancel() }
}
