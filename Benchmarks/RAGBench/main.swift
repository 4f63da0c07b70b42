print("rag-bench: see docs/performance.md")
