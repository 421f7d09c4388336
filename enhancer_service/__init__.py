"""The enhancer service: rewrites prompts with a local Ollama model over async gRPC."""
