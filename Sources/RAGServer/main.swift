print("rag-server: not yet implemented")
