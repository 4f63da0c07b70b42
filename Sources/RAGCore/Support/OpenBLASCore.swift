import CBLAS
import CVectorKernels
import Foundation

/// Which of OpenBLAS's kernel sets runs, and the remedy when the library does not recognise the CPU.
///
/// OpenBLAS (Debian 12 ships 0.3.21, built with `DYNAMIC_ARCH`) picks its kernels when it is loaded, from the CPU's
/// family and model. A CPU newer than the library is not recognised and gets its oldest set, `Prescott` (SSE3): on an
/// Intel Xeon of family 6, model 207 (Emerald Rapids, AVX-512 with BF16) that made `sgemm`, and so the MiniLM encoder
/// and batch search, two to three times slower than the library's `Cooperlake` kernels on the same CPU
/// (docs/performance.md). `OPENBLAS_CORETYPE` chooses the set, but only before the library is loaded, so `rag`,
/// `rag-server` and `RAGBench` call ``reexecIfUnrecognized()`` first thing: when OpenBLAS chose a set older than
/// AVX2 on a CPU that runs AVX2 or AVX-512, the program runs itself again (same process id, arguments and other
/// environment) with `OPENBLAS_CORETYPE` set to the newest set the CPU's features allow. A program that embeds
/// RAGCore can do the same, or set `OPENBLAS_CORETYPE` itself (``recommendedCoreType``).
public enum OpenBLASCore {
    /// The kernel set OpenBLAS uses in this process (`Prescott`, `Haswell`, `SkylakeX`, `Cooperlake`, …).
    public static var name: String { String(cString: openblas_get_corename()) }

    /// Kernel sets of at least AVX2, in OpenBLAS's names (lower case): OpenBLAS recognised the CPU.
    static let modern: Set<String> = ["haswell", "zen", "excavator", "skylakex", "cooperlake", "sapphirerapids"]

    /// The set `OPENBLAS_CORETYPE` should name on this CPU when OpenBLAS did not recognise it, else `nil`: `Cooperlake`
    /// for AVX-512 with BF16, `SkylakeX` for AVX-512, `Haswell` for AVX2 with FMA.
    public static var recommendedCoreType: String? {
        recommendation(current: name, cpuLevel: Int(ragvec_cpu_level()))
    }

    package static func recommendation(current: String, cpuLevel: Int) -> String? {
        guard !modern.contains(current.lowercased()) else { return nil }
        switch cpuLevel {
        case 3: return "Cooperlake"
        case 2: return "SkylakeX"
        case 1: return "Haswell"
        default: return nil
        }
    }

    /// The variable that marks a program already run again, so that it never loops.
    static let reexecMarker = "RAG_OPENBLAS_REEXEC"

    /// When OpenBLAS did not recognise this CPU and `OPENBLAS_CORETYPE` is not set, runs this program again with it set
    /// (``recommendedCoreType``); returns only when nothing needed doing or the program could not be run again (then it
    /// goes on with the kernels OpenBLAS chose). Call it first thing in `main`, before any thread starts.
    public static func reexecIfUnrecognized() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment[reexecMarker] == nil, let core = recommendedCoreType else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(reexecMarker, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        unsetenv("OPENBLAS_CORETYPE")  // could not run again: go on as loaded
        unsetenv(reexecMarker)
    }

    /// One line for `rag doctor` and the server's start: the set in use, and why.
    public static var summary: String {
        let environment = ProcessInfo.processInfo.environment
        let core = name
        if let chosen = environment["OPENBLAS_CORETYPE"] {
            return environment[reexecMarker] != nil
                ? "\(core) (OpenBLAS did not recognise this CPU; OPENBLAS_CORETYPE=\(chosen) set by this program)"
                : "\(core) (OPENBLAS_CORETYPE=\(chosen))"
        }
        if let better = recommendedCoreType { return "\(core) (this CPU could run \(better); set OPENBLAS_CORETYPE=\(better))" }
        return core
    }
}
