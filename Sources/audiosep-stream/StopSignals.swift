import Foundation
import Run
import Stream
import Synchronization

/// SIGINT, SIGTERM and SIGHUP end a run the way the end of the input does: reading stops, the
/// windows in flight are separated and written, the output is ended validly (a WAV header on a
/// file is patched), then the tool exits 128 + the signal (130, 143, 129). A second signal exits
/// at once, removing the unfinished output's temporary file first.
enum StopSignals {
    private static let received = Atomic<Int32>(0)
    /// The self-pipe: the handler writes a byte, a watcher thread does the rest.
    nonisolated(unsafe) private static var wakeWrite: Int32 = -1
    /// The temporary files of outputs still being written, nil-terminated, for the handler to
    /// remove (unlink is async-signal-safe) when a second signal ends the run at once.
    nonisolated(unsafe) private static var stagedPaths: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?

    /// Names the temporary files to remove if a second signal cuts the run short ([]: none).
    @Sendable static func stage(_ paths: [String]) {
        let list = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: paths.count + 1)
        for (index, path) in paths.enumerated() { list[index] = strdup(path) }
        list[paths.count] = nil
        let old = stagedPaths
        stagedPaths = list
        // The old list is left allocated: a handler may be reading it (a few bytes a run).
        _ = old
    }

    /// Removes every staged temporary file (async-signal-safe).
    private static func unlinkStaged() {
        guard let list = stagedPaths else { return }
        var index = 0
        while let path = list[index] {
            unlink(path)
            index += 1
        }
    }

    /// Whose blocked read to interrupt: the main thread while it opens the input (reading the
    /// header), then the pipeline's reader thread.
    private enum Target {
        case opening(pthread_t)
        case running(RunControl, opening: pthread_t)
    }
    private static let target = Mutex<Target?>(nil)

    /// The signal that stopped the run, if any.
    static var signal: Int32? {
        let value = received.load(ordering: .acquiring)
        return value == 0 ? nil : value
    }

    /// Installs the handlers, first thing: a signal while the header is still being read counts too.
    static func install() {
        InputInterruption.installWakeHandler()
        target.withLock { $0 = .opening(pthread_self()) }
        var descriptors: [Int32] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return }
        wakeWrite = descriptors[1]
        let wakeRead = descriptors[0]
        let watcher = Thread {
            var byte: UInt8 = 0
            while read(wakeRead, &byte, 1) < 0, errno == EINTR {}
            // Keep knocking until the read loop has seen the request: the signal can land just
            // before a read starts, and then only a later one interrupts it.
            while wake() { usleep(20_000) }
        }
        watcher.start()
        handle([SIGINT, SIGTERM, SIGHUP]) { number in
            // Only async-signal-safe work here: atomics, write(2), _exit.
            if StopSignals.received.exchange(number, ordering: .acquiringAndReleasing) != 0 {
                StopSignals.unlinkStaged()
                // `> out.wav`: the header says what reached the file (pwrite only).
                WAVSink.patchArmedHeader()
                _exit(128 + number)
            }
            var byte: UInt8 = 1
            _ = write(StopSignals.wakeWrite, &byte, 1)
        }
    }

    /// For `batch`: SIGINT, SIGTERM and SIGHUP end the run at once, removing the output being
    /// written (its temporary file; nothing appears under its name), exit 128 + the signal. The
    /// journal holds every job that ended; a rerun does what is left.
    static func installImmediate() {
        handle([SIGINT, SIGTERM, SIGHUP]) { number in
            // Only async-signal-safe work here: unlink, _exit.
            StopSignals.unlinkStaged()
            _exit(128 + number)
        }
    }

    /// Installs `handler` for each of `signals` without SA_RESTART, so that a read blocked in the
    /// thread that receives one returns EINTR (the filter's and the worker's stops both rely on it).
    static func handle(_ signals: [Int32], _ handler: @convention(c) (Int32) -> Void) {
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = handler
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(number, &action, nil)
        }
    }

    /// From now on a stop interrupts this run's reader once its pipeline has started (the main
    /// thread, which reads the input's header, until then).
    static func attach(_ control: RunControl) {
        target.withLock { $0 = .running(control, opening: pthread_self()) }
        // A signal that came while the engine was made stops the run before it reads.
        if signal != nil { control.cancellation.request() }
    }

    /// Interrupts the current target's read; false when there is nothing left to interrupt.
    private static func wake() -> Bool {
        target.withLock { target in
            switch target {
            case .opening(let thread):
                pthread_kill(thread, InputInterruption.wakeSignal)
                return true
            case .running(let control, let thread):
                control.cancellation.request()
                if let running = control.interruptReader() { return running }
                pthread_kill(thread, InputInterruption.wakeSignal)
                return true
            case nil:
                return false
            }
        }
    }
}

/// When stdout is a pipe and its reader goes away (`| head -c 1000`), the run is over at once:
/// nobody will read what is still to come, and the writer might not notice for a window's time
/// (it only learns of it from its next write). The kernel flags the pipe (POLLERR) the moment the
/// last reader closes it; a watcher waiting for that exits quietly, as a closed pipe always does.
enum ReaderWatch {
    static func start() {
        var status = stat()
        guard fstat(STDOUT_FILENO, &status) == 0,
              (status.st_mode & S_IFMT) == S_IFIFO || (status.st_mode & S_IFMT) == S_IFSOCK else { return }
        let watcher = Thread {
            var descriptor = pollfd(fd: STDOUT_FILENO, events: 0, revents: 0)
            while true {
                let ready = poll(&descriptor, 1, -1)
                if ready < 0, errno == EINTR { continue }
                if ready > 0, descriptor.revents & Int16(POLLERR | POLLHUP) != 0 { _exit(0) }
                if ready < 0 { return }
            }
        }
        watcher.start()
    }
}

/// The run a signal stopped: its output is complete up to where reading stopped.
struct Interrupted: Error, CustomStringConvertible {
    var signal: Int32
    var secondsWritten: Double?
    /// Where the partial output is when `-o PATH` existed before the run (PATH keeps its file).
    var keptAs: String? = nil
    /// `-o PATH` that existed and keeps its file, when the partial could not be kept beside it.
    var unchanged: String? = nil
    /// Where every other output of a several-stem run was left.
    var others: [String] = []

    var description: String {
        others.isEmpty ? first : first + "; " + others.joined(separator: "; ")
    }

    private var first: String {
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : signal == SIGHUP ? "SIGHUP" : "signal \(signal)"
        guard let secondsWritten else { return "stopped by \(name) before any audio arrived" }
        if let keptAs {
            return String(format: "stopped by %@: %.2f s written to '%@', ended validly; the existing output file was left unchanged",
                          name, secondsWritten, keptAs)
        }
        if let unchanged {
            return "stopped by \(name): the existing '\(unchanged)' was left unchanged and the partial output removed"
        }
        return String(format: "stopped by %@: %.2f s written, the output ended validly", name, secondsWritten)
    }
}
