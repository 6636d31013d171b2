"""What a prompt can be (DESIGN.md's PROMPT): its kinds and levels, shared by
the store, which makes prompts, and head office, which counts them in each
store's reports as ``kind:level``."""

KINDS = ("service", "pain", "amplify", "heard")
LEVELS = ("standard", "priority", "murdoch", "urgent")
