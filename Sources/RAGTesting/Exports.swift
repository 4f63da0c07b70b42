@_exported import RAGCore
