import Foundation
import HTTPTypes

#if canImport(Glibc)
import Glibc
#endif

/// An IP address, IPv4 or IPv6, as its 4 or 16 bytes. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are read as
/// the IPv4 address they carry, so a proxy reached over either family matches the same network.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// Parses `10.0.0.1`, `2001:db8::1`, `[2001:db8::1]` or `2001:db8::1%eth0` (the zone is ignored); `nil` for
    /// anything else.
    public init?(_ text: some StringProtocol) {
        var text = String(text)
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if let percent = text.firstIndex(of: "%") { text = String(text[..<percent]) }
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let all = withUnsafeBytes(of: v6) { Array($0) }
        bytes = all[0..<10].allSatisfy { $0 == 0 } && all[10] == 0xFF && all[11] == 0xFF ? Array(all[12...]) : all
    }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        return inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil ? String(cString: buffer) : "?"
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`); a bare address is a network of one.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `address/prefix` or a bare address; `nil` when the address is not one or the prefix is out of range.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0].trimmingCharacters(in: .whitespaces)) else { return nil }
        let bits = address.bytes.count * 8
        if parts.count == 2 {
            guard let length = Int(parts[1].trimmingCharacters(in: .whitespaces)), (0...bits).contains(length),
                parts[1].allSatisfy(\.isASCII)
            else { return nil }
            prefixLength = length
        } else {
            prefixLength = bits
        }
        self.address = address
    }

    /// Whether `candidate` lies in this network (never across address families).
    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.bytes.count == address.bytes.count else { return false }
        var remaining = prefixLength
        for (mine, theirs) in zip(address.bytes, candidate.bytes) {
            guard remaining > 0 else { return true }
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if mine & mask != theirs & mask { return false }
            remaining -= 8
        }
        return true
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// Parses a list of networks separated by commas or white space; `nil` when any entry is not a network or
    /// there is none.
    public static func list(_ text: String) -> [IPNetwork]? {
        let entries = text.split(whereSeparator: { $0 == "," || $0.isWhitespace })
        guard !entries.isEmpty else { return nil }
        var networks: [IPNetwork] = []
        for entry in entries {
            guard let network = IPNetwork(entry) else { return nil }
            networks.append(network)
        }
        return networks
    }
}

/// Which request header a trusted proxy names the client in.
public enum ForwardedHeader: String, Sendable, CaseIterable {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, Envoy, HAProxy, cloud load balancers).
    case xForwardedFor = "x-forwarded-for"
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    case forwarded
}

/// Who a request comes from, for the rate limits: the peer address, or, when the peer is a trusted proxy, the
/// address the proxies recorded.
///
/// The header is read from the right: each proxy appends the address it was reached from, so entries are
/// skipped while they are trusted proxies and the first one that is not is the client. Entries left of it are
/// whatever the client sent and are never believed. An entry that is not an address stops the walk at the last
/// trusted hop. With no trusted proxies (the default) the headers are ignored and the peer is the client.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [IPNetwork]
    public let header: ForwardedHeader

    public init(trustedProxies: [IPNetwork], header: ForwardedHeader) {
        self.trustedProxies = trustedProxies
        self.header = header
    }

    /// Most entries read from the header (from the right): a longer chain is cut there.
    static let maxHops = 32

    func isTrusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }

    /// The client's address as text: the peer's, or the forwarded one when the peer is a trusted proxy.
    public func client(peer: String, headers: HTTPFields) -> String {
        guard !trustedProxies.isEmpty, let peerAddress = IPAddress(peer), isTrusted(peerAddress) else { return peer }
        let entries: [Substring]
        switch header {
        case .xForwardedFor:
            entries = headers[values: .xForwardedFor].flatMap { $0.split(separator: ",") }
        case .forwarded:
            entries = headers[values: .forwarded].flatMap { $0.split(separator: ",") }.map(Self.forValue)
        }
        var client = peerAddress
        for entry in entries.reversed().prefix(Self.maxHops) {
            guard let address = Self.address(in: entry) else { break }
            client = address
            if !isTrusted(address) { break }
        }
        return client.description
    }

    /// The `for=` parameter of one `Forwarded` element (`for=192.0.2.60;proto=http`), or "" without one.
    static func forValue(_ element: Substring) -> Substring {
        for pair in element.split(separator: ";") {
            let trimmed = pair.drop(while: \.isWhitespace)
            if trimmed.lowercased().hasPrefix("for=") { return trimmed.dropFirst(4) }
        }
        return ""
    }

    /// The address in one entry: `192.0.2.60`, `"192.0.2.60:4711"`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
    static func address(in entry: Substring) -> IPAddress? {
        var text = entry.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 { text = String(text.dropFirst().dropLast()) }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            return IPAddress(text[text.index(after: text.startIndex)..<close])
        }
        if let address = IPAddress(text) { return address }
        // IPv4 with a port.
        let parts = text.split(separator: ":")
        if parts.count == 2, parts[1].allSatisfy(\.isNumber) { return IPAddress(parts[0]) }
        return nil
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
    static let forwarded = Self("Forwarded")!
}
