// swift-tools-version:6.1
import Foundation
import PackageDescription

/// One settings block for every Swift target: Swift 6 strict concurrency plus the upcoming features we rely on.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "pdf-chatbot",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RAGCore", targets: ["RAGCore"]),
        .library(name: "RAGTesting", targets: ["RAGTesting"]),
        .executable(name: "rag", targets: ["RAGCLI"]),
        .library(name: "RAGServer", targets: ["RAGServer"]),
        .executable(name: "rag-server", targets: ["RAGServerMain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // The PostgreSQL collection store (a shared collection for many replicas).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // The Redis client (RESP over SwiftNIO): the response cache and the rate limits shared by replicas.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Tests only: property-based checks of the configuration reader.
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // MuPDF behind a C shim: `fz_try`/`fz_catch` use setjmp/longjmp, which must never cross Swift frames.
        .target(
            name: "CMuPDF",
            dependencies: ["CFriBidi"],
            linkerSettings: [
                .linkedLibrary("mupdf"), .linkedLibrary("mupdf-third"), .linkedLibrary("mujs"),
                .linkedLibrary("gumbo"), .linkedLibrary("openjp2"), .linkedLibrary("jbig2dec"),
                .linkedLibrary("jpeg"), .linkedLibrary("freetype"), .linkedLibrary("harfbuzz"),
                .linkedLibrary("z"), .linkedLibrary("m"),
            ]
        ),
        // GNU FriBidi: the shim returns right-to-left lines (Hebrew, Arabic) in reading order.
        .systemLibrary(name: "CFriBidi", pkgConfig: "fribidi", providers: [.apt(["libfribidi-dev"])]),
        // Memory-bound dot products for single-query search, chosen at run time (AVX-512F, AVX2+FMA, portable C).
        .target(name: "CVectorKernels"),
        // Tesseract's C API behind a shim that loads libtesseract at run time (dlopen): OCR of scanned pages when
        // Tesseract is installed, and binaries that start without it.
        .target(name: "CTesseract", linkerSettings: [.linkedLibrary("dl")]),
        // System calls Swift's Glibc module hides (naming threads).
        .target(name: "CSupport"),
        // The MiniLM encoder's attention, GELU and LayerNorm, compiled for AVX-512F, AVX2+FMA and portable C and
        // chosen at run time (Swift itself targets baseline x86-64, where its SIMD code is SSE-width).
        .target(name: "CEncoderKernels"),
        // OpenBLAS's CBLAS interface (`cblas_sgemv`, `cblas_sgemm`).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // libcurl, with typed wrappers for the variadic `curl_easy_setopt`.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // zlib: CRC-32 for collection checksums, and deflate for the test PDF writer.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // SQLite: the collection's store (documents, chunks, vectors, BM25 statistics and the change log).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "RAGCore",
            dependencies: [
                "CMuPDF", "CTesseract", "CSupport", "CBLAS", "CCurl", "CZlib", "CSQLite", "CVectorKernels", "CEncoderKernels",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "RAGTesting", dependencies: ["RAGCore", "CZlib", "CSQLite"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "RAGCLI",
            dependencies: [
                "RAGCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The HTTP server as a library (`buildApplication(configuration:)`), so tests run the very same app. The chat
        // page's files in Public/ are embedded in the binary by the EmbedWebAssets plugin.
        .target(
            name: "RAGServer",
            dependencies: [
                "RAGCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["Public"],
            swiftSettings: swiftSettings,
            plugins: ["EmbedWebAssets"]
        ),
        .executableTarget(name: "embed-files", path: "Sources/EmbedFiles"),
        .plugin(name: "EmbedWebAssets", capability: .buildTool(), dependencies: ["embed-files"]),
        .executableTarget(
            name: "RAGServerMain",
            dependencies: [
                "RAGServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The tests' one process launcher (not a product).
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(
            name: "RAGServerTests",
            dependencies: [
                "RAGServer", "RAGTesting", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RAGCoreTests",
            dependencies: [
                "RAGCore", "RAGTesting", "TestSupport", "CEncoderKernels",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Golden", "Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)

// The benchmarks (Benchmarks/RAGBench, driven by Benchmarks/scripts/) are built only when asked for, so `swift build`
// and `swift test` never compile them: `ENABLE_RAG_BENCHMARKS=1 swift build -c release --product RAGBench`.
if ProcessInfo.processInfo.environment["ENABLE_RAG_BENCHMARKS"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "RAGBench",
            dependencies: [
                "RAGCore", "RAGTesting", "RAGServer", "CEncoderKernels",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/RAGBench", swiftSettings: swiftSettings)
    )
}

// The fuzzing targets (Fuzz/, driven by scripts/fuzz.sh) are built only when asked for, with libFuzzer's coverage
// instrumentation and AddressSanitizer; the libraries they exercise are instrumented too, so that libFuzzer sees their
// coverage. Each target's `main` calls libFuzzer's driver, which the script links from the toolchain
// (`libclang_rt.fuzzer_no_main`): `scripts/fuzz.sh [seconds]`.
if ProcessInfo.processInfo.environment["ENABLE_RAG_FUZZ"] == "1" {
    let sanitize: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
    for target in package.targets where ["RAGCore", "RAGServer"].contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + sanitize
    }
    for (name, library) in [("FuzzMultipart", "RAGServer"), ("FuzzCollection", "RAGCore")] {
        package.targets.append(
            .executableTarget(
                name: name, dependencies: [.target(name: library)], path: "Fuzz/\(name)",
                swiftSettings: swiftSettings + sanitize + [.enableExperimentalFeature("Extern")],
                linkerSettings: [.unsafeFlags(["-sanitize=address"])])
        )
    }
}
