/// Estimates token counts without a tokenizer: about one token per four bytes of UTF-8, which is close for
/// English prose with GPT-style tokenizers. Used for prompt budgets and when a model reports no usage.
public enum TokenEstimator {
    public static func estimate(_ text: String) -> Int { (text.utf8.count + 3) / 4 }

    /// Messages plus a small per-message overhead (role and separators).
    public static func estimate(_ messages: [ChatMessage]) -> Int {
        messages.reduce(3) { $0 + 4 + estimate($1.content) }
    }
}
