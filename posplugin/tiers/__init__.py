"""Tier lists: identifiers normalised and hashed, the scoring policy, CSV
import, the list files a store looks customers up in, and the signed feed
format between head office and stores."""
