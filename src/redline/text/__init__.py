"""Text before detection: normalization, de-obfuscation, and the conversation form of any input.

Owns turning raw input (a string, OpenAI-style messages) into canonical text segments. Must not
score, decide, or know about red lines.
"""

from redline.text.conversation import (
    Conversation,
    InputError,
    Segment,
    conversation_from_item,
    conversation_from_messages,
    conversation_from_text,
)
from redline.text.decode import Payload, find_payloads
from redline.text.normalize import normalize

__all__ = [
    "Conversation",
    "InputError",
    "Payload",
    "Segment",
    "conversation_from_item",
    "conversation_from_messages",
    "conversation_from_text",
    "find_payloads",
    "normalize",
]
