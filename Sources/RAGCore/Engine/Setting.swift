import Foundation

/// One setting of an executable: the flag and the environment variable that give it, its default, the values it
/// accepts and what it does. A front's table of these (``EngineSettings`` here, `ServerSettings` in RAGServer) is
/// the one place where its settings are named, defaulted, described and checked: `--help` texts are made from it
/// and docs/configuration.md is checked against it by a test.
///
/// One precedence rule: the flag when it was given, else the environment variable when it is set (even to the
/// empty string, which no setting accepts), else the default. A value is parsed and range-checked once, here; a
/// value that is not accepted is a ``SettingError`` that names the flag and the variable, on one line.
///
/// ```swift
/// let port = Setting<Int>.integer(flag: "--port", variable: "RAG_PORT", default: 8501, in: 0...65535, help: "The port.")
/// let value = try port.value(flag: nil, environment: ["RAG_PORT": "8080"])  // 8080
/// // ["RAG_PORT": "70000"]: RAG_PORT (--port) must be an integer from 0 to 65535, not '70000'
/// ```
public struct Setting<Value: Sendable>: Sendable {
    /// The flag, with its dashes (`--port`), or `nil` when only the environment gives it.
    public var flag: String?
    /// The environment variable (`RAG_PORT`), or `nil` when only a flag gives it.
    public var variable: String?
    /// What `--help` calls the value (`n`, `seconds`, `dir`).
    public var valueName: String
    /// The value when neither the flag nor the variable is given.
    public var defaultValue: Value
    /// The default as `--help` and the documentation show it (`8501`, `off`).
    public var defaultText: String
    /// What a value must be, completing "must be …" (`an integer from 0 to 65535`).
    public var requirement: String
    /// What the setting does, for `--help`.
    public var help: String
    /// Whether the value is a secret: errors then never quote it.
    public var isSecret: Bool
    /// Turns a text into a value, or `nil` when the text is not one the setting accepts.
    public var parser: @Sendable (String) -> Value?
    /// Whether a value (however it was made) is one the setting accepts.
    public var accepts: @Sendable (Value) -> Bool
    /// A value as errors show it.
    public var format: @Sendable (Value) -> String

    public init(
        flag: String?, variable: String?, valueName: String, default defaultValue: Value, defaultText: String? = nil,
        requirement: String, help: String, isSecret: Bool = false,
        accepts: @escaping @Sendable (Value) -> Bool = { _ in true },
        format: @escaping @Sendable (Value) -> String = { "\($0)" },
        parser: @escaping @Sendable (String) -> Value?
    ) {
        self.flag = flag
        self.variable = variable
        self.valueName = valueName
        self.defaultValue = defaultValue
        self.defaultText = defaultText ?? format(defaultValue)
        self.requirement = requirement
        self.help = help
        self.isSecret = isSecret
        self.parser = parser
        self.accepts = accepts
        self.format = format
    }

    /// Where a value came from.
    public enum Source: Sendable {
        case flag
        case variable
    }

    /// The value in effect: `flag` (the flag's text, when it was given), else the variable in `environment` when it
    /// is set, else ``defaultValue``.
    ///
    /// - Throws: ``SettingError`` when the text in effect is not a value the setting accepts.
    public func value(flag given: String?, environment: [String: String]) throws(SettingError) -> Value {
        if let given { return try parse(given, from: .flag) }
        if let variable, let text = environment[variable] { return try parse(text, from: .variable) }
        return defaultValue
    }

    /// Parses `text`, given by the flag or the variable.
    ///
    /// - Throws: ``SettingError`` naming the setting as `source` spells it first.
    public func parse(_ text: String, from source: Source) throws(SettingError) -> Value {
        guard let value = parser(text), accepts(value) else {
            let quoted = isSecret ? "" : ", not \(SettingError.quote(text))"
            throw SettingError(flag: flag, variable: variable, "\(name(from: source)) must be \(requirement)\(quoted)")
        }
        return value
    }

    /// Checks a value made in code.
    ///
    /// - Throws: ``SettingError`` naming the flag first.
    public func check(_ value: Value) throws(SettingError) {
        guard accepts(value) else {
            let shown = isSecret ? "" : ", not \(format(value))"
            throw SettingError(flag: flag, variable: variable, "\(name(from: .flag)) must be \(requirement)\(shown)")
        }
    }

    /// The setting's names as errors give them: the one the value came from first, the other in brackets
    /// (`RAG_PORT (--port)`, `--port (RAG_PORT)`).
    public func name(from source: Source) -> String {
        switch (flag, variable) {
        case (let flag?, let variable?): source == .flag ? "\(flag) (\(variable))" : "\(variable) (\(flag))"
        case (let flag?, nil): flag
        case (nil, let variable?): variable
        case (nil, nil): valueName
        }
    }

    /// This setting without its environment variable, for a front that reads only flags (`rag`).
    public var flagOnly: Setting {
        var setting = self
        setting.variable = nil
        return setting
    }

    /// The setting's description, without its type.
    public var info: SettingInfo {
        SettingInfo(flag: flag, variable: variable, valueName: valueName, defaultText: defaultText, requirement: requirement, help: help)
    }
}

/// A setting's names, default and texts, whatever its type: what `--help` and the documentation show.
public struct SettingInfo: Sendable, Hashable {
    public var flag: String?
    public var variable: String?
    public var valueName: String
    public var defaultText: String
    public var requirement: String
    public var help: String

    /// The `--help` text: the help, the variable in brackets and the default (`The port. [RAG_PORT] (default 8501)`).
    public var helpText: String {
        var text = help
        if let variable, flag != nil { text += " [\(variable)]" }
        return text + " (default \(defaultText))."
    }
}

/// A setting whose value cannot be used, as one line that names the flag and the environment variable:
/// `RAG_PORT (--port) must be an integer from 0 to 65535, not '70000'`. Executables print it and exit with 64.
public struct SettingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The setting's flag, when it has one.
    public var flag: String?
    /// The setting's environment variable, when it has one.
    public var variable: String?
    /// The whole message.
    public var message: String

    public init(flag: String? = nil, variable: String? = nil, _ message: String) {
        self.flag = flag
        self.variable = variable
        self.message = message
    }

    public init(_ description: String) {
        self.init(flag: nil, variable: nil, description)
    }

    public var description: String { message }

    /// `text` in single quotes on one line: control characters escaped, at most 80 characters of it.
    public static func quote(_ text: String) -> String {
        var quoted = ""
        for scalar in text.unicodeScalars.prefix(80) {
            switch scalar {
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case "'", "\\": quoted += "\\" + String(scalar)
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.properties.generalCategory == .lineSeparator
                || scalar.properties.generalCategory == .paragraphSeparator:
                quoted += "\\u{\(String(scalar.value, radix: 16))}"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return "'\(quoted)\(text.unicodeScalars.count > 80 ? "…" : "")'"
    }
}

extension Setting where Value == Int {
    /// An integer setting accepting `range`. The requirement reads "a positive integer" for `1...`, "an integer of
    /// N or more" for other unbounded ranges, else "an integer from A to B", plus `note` when given.
    public static func integer(
        flag: String?, variable: String?, valueName: String = "n", default defaultValue: Int, in range: ClosedRange<Int>,
        note: String? = nil, help: String
    ) -> Setting {
        let requirement =
            switch (range.lowerBound, range.upperBound) {
            case (1, Int.max): "a positive integer"
            case (let lower, Int.max): "an integer of \(lower) or more"
            case (let lower, let upper): "an integer from \(lower) to \(upper)"
            }
        return Setting(
            flag: flag, variable: variable, valueName: valueName, default: defaultValue,
            requirement: requirement + (note.map { " (\($0))" } ?? ""), help: help, accepts: { range.contains($0) },
            parser: { Int($0) })
    }
}

extension Setting where Value == Double {
    /// A finite number in `range`.
    public static func number(
        flag: String?, variable: String?, valueName: String = "x", default defaultValue: Double, in range: ClosedRange<Double>,
        note: String? = nil, help: String
    ) -> Setting {
        let requirement =
            range.upperBound == .greatestFiniteMagnitude
            ? "a finite number of \(Setting.decimal(range.lowerBound)) or more"
            : "a number from \(Setting.decimal(range.lowerBound)) to \(Setting.decimal(range.upperBound))"
        return Setting(
            flag: flag, variable: variable, valueName: valueName, default: defaultValue,
            requirement: requirement + (note.map { " (\($0))" } ?? ""), help: help,
            accepts: { $0.isFinite && range.contains($0) }, format: Setting.decimal, parser: { Double($0) })
    }
}

extension Setting {
    /// `8`, `0.5`: a number without a trailing `.0`.
    static func decimal(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}

extension Setting where Value == Duration {
    /// A duration given in seconds (a finite number), in `range`; `excludingZero` refuses 0 when the range starts
    /// there.
    public static func seconds(
        flag: String?, variable: String?, default defaultValue: Duration, in range: ClosedRange<Double>,
        excludingZero: Bool = false, help: String
    ) -> Setting {
        let lower = Setting<Double>.decimal(range.lowerBound)
        let upper = Setting<Double>.decimal(range.upperBound)
        let requirement =
            excludingZero && range.lowerBound == 0
            ? "a number of seconds more than 0 and at most \(upper)" : "a number of seconds from \(lower) to \(upper)"
        return Setting(
            flag: flag, variable: variable, valueName: "seconds", default: defaultValue, requirement: requirement, help: help,
            accepts: { duration in
                let seconds = duration.seconds
                return range.contains(seconds) && !(excludingZero && seconds == 0)
            },
            format: { Setting<Double>.decimal($0.seconds) },
            parser: { text in
                guard let seconds = Double(text), seconds.isFinite, range.contains(seconds) else { return nil }
                return .seconds(seconds)
            })
    }
}

extension Setting where Value == Bool {
    /// The words a boolean setting accepts, in any case.
    public static var booleanWords: [String: Bool] {
        ["true": true, "false": false, "1": true, "0": false, "yes": true, "no": false, "on": true, "off": false]
    }

    /// A boolean: `true`, `false`, `1`, `0`, `yes`, `no`, `on` or `off`, in any case. Any other text is an error,
    /// never `false`.
    public static func boolean(flag: String?, variable: String?, default defaultValue: Bool, help: String) -> Setting {
        Setting(
            flag: flag, variable: variable, valueName: "bool", default: defaultValue,
            defaultText: defaultValue ? "on" : "off",
            requirement: "true, false, 1, 0, yes, no, on or off", help: help,
            parser: { booleanWords[$0.lowercased()] })
    }
}

extension Setting where Value: RawRepresentable & CaseIterable, Value.RawValue == String {
    /// One of `Value`'s cases, by raw value (exactly: `json`, not `JSON`).
    public static func choice(flag: String?, variable: String?, valueName: String, default defaultValue: Value, help: String) -> Setting {
        let names = Value.allCases.map(\.rawValue)
        let requirement = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names.joined()
        return Setting(
            flag: flag, variable: variable, valueName: valueName, default: defaultValue, requirement: requirement, help: help,
            format: { $0.rawValue }, parser: { Value(rawValue: $0) })
    }
}
