"""The engine: one entry point from raw input to `Decision` (normalize -> classify -> decide).

Shared by the CLI, the gateway and replay so that every surface decides the same way.
"""

from __future__ import annotations

from typing import Any

from redline.classify import BuiltinClassifier, Classifier, ClassifierError
from redline.decide import Decision, decide, decide_error
from redline.policy import Policy, load_policy
from redline.text import Conversation, conversation_from_item, conversation_from_text


def make_classifier(policy: Policy, backend: str, model_path: str | None = None) -> Classifier:
    """The named backend; optional backends are imported only when asked for."""
    if backend == "builtin":
        return BuiltinClassifier.from_policy(policy, model_path)
    if backend == "semantic":
        from redline.classify.semantic import SemanticClassifier

        return SemanticClassifier.from_policy(policy)
    if backend == "judge":
        from redline.classify.judge import JudgeClassifier

        return JudgeClassifier.from_environment(policy)
    raise ClassifierError(f"unknown classifier backend {backend!r}")


class Engine:
    def __init__(self, policy: Policy, classifier: Classifier) -> None:
        self.policy = policy
        self.classifier = classifier

    @classmethod
    def from_options(cls, policy_path: str | None = None, model_path: str | None = None, backend: str | None = None) -> Engine:
        """An engine on the policy at `policy_path` (default policy if None) with its backend."""
        policy = load_policy(policy_path)
        return cls(policy, make_classifier(policy, backend or policy.document.classifier.backend, model_path))

    def conversation(self, item: Any) -> Conversation:
        """Read an input object: `{"text": ...}` or `{"messages": [...]}` (optional `system`)."""
        return conversation_from_item(item, self.policy.document.limits.max_input_chars)

    def decide(self, conversation: Conversation) -> Decision:
        try:
            assessment = self.classifier.assess(conversation)
        except ClassifierError as e:
            return decide_error(self.policy, str(e), self.classifier.name)
        return decide(self.policy, assessment)

    def decide_text(self, text: str) -> Decision:
        return self.decide(conversation_from_text(text, self.policy.document.limits.max_input_chars))

    def decide_item(self, item: Any) -> Decision:
        return self.decide(self.conversation(item))
