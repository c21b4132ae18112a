"""Classification: signals and per-red-line scores for one text or conversation.

Owns the backends (built-in network over terms and signals, with its compiled forward pass and
training step; optional semantic embeddings; optional LLM judge) behind one interface. Must not decide allow/review/block (that is `decide`) or touch storage or HTTP.
"""

from redline.classify.base import Assessment, Classifier, ClassifierError, Hit
from redline.classify.builtin import BuiltinClassifier

__all__ = ["Assessment", "BuiltinClassifier", "Classifier", "ClassifierError", "Hit"]
