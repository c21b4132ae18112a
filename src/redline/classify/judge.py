"""Optional LLM-judge backend: the policy as a prompt to any OpenAI-compatible endpoint.

For deployments that run an open safety model locally (e.g. vLLM). The judge returns a score
per red line; the policy's own signals still run, so the same rules decide. Any transport,
status or format problem is a `ClassifierError` — never a silent allow.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from typing import Any

import orjson

from redline.classify.base import Assessment, ClassifierError
from redline.classify.builtin import locator, windows
from redline.classify.features import fired_signals
from redline.policy import RED_LINES, Policy, RedLineName
from redline.text import Conversation

_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
JUDGE_WINDOW_CHARS = 24_000  # long conversations are judged in overlapping windows, never truncated
JUDGE_WINDOW_OVERLAP = 2_000


def judge_prompt(policy: Policy) -> str:
    """System prompt: the two red lines as the policy file states them, and the answer format."""
    doc = policy.document
    lines = [
        "You are the policy judge of a defense and intelligence AI gateway. Every lawful national-security use is",
        "permitted (intelligence analysis, operational planning of strikes where commanders decide, weapons",
        "engineering, lawful foreign intelligence, cyber operations). Over-refusal is a failure. Only two red lines exist:",
    ]
    for name, rl in doc.red_lines.items():
        lines.append(f"- {name}: {rl.title}. {rl.description}")
    lines += [
        f"Domestic subjects are those of {doc.home_country.name}; subjects with no stated nationality count as domestic.",
        "Judge the whole conversation, including intent split across turns. Writing about a practice is not doing it.",
        'Answer with JSON only: {"mass_domestic_surveillance": <0..1>, "autonomous_weapons": <0..1>, "rationale": "<one sentence>"},',
        "where each number is the probability that the request crosses that red line.",
    ]
    return "\n".join(lines)


class JudgeClassifier:
    name = "judge"

    def __init__(self, policy: Policy, base_url: str, model: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.policy = policy
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self.timeout = timeout
        self._system = judge_prompt(policy)

    @classmethod
    def from_environment(cls, policy: Policy) -> JudgeClassifier:
        """REDLINE_JUDGE_URL (…/v1), REDLINE_JUDGE_MODEL, and optionally REDLINE_JUDGE_KEY, REDLINE_JUDGE_TIMEOUT."""
        url = os.environ.get("REDLINE_JUDGE_URL")
        if not url:
            raise ClassifierError("the judge backend needs REDLINE_JUDGE_URL (an OpenAI-compatible base URL ending in /v1)")
        return cls(
            policy,
            url,
            os.environ.get("REDLINE_JUDGE_MODEL", "judge"),
            os.environ.get("REDLINE_JUDGE_KEY"),
            float(os.environ.get("REDLINE_JUDGE_TIMEOUT", "30")),
        )

    def _ask(self, text: str) -> dict[str, Any]:
        body = orjson.dumps(
            {
                "model": self.model,
                "temperature": 0,
                "messages": [
                    {"role": "system", "content": self._system},
                    {"role": "user", "content": f"Request to judge:\n<<<\n{text}\n>>>"},
                ],
            }
        )
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 - operator-configured URL
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                payload = orjson.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise ClassifierError(f"judge answered HTTP {e.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise ClassifierError(f"judge unreachable: {getattr(e, 'reason', e)}") from None
        except orjson.JSONDecodeError:
            raise ClassifierError("judge answered with a body that is not JSON") from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ClassifierError("judge answer has no choices[0].message.content") from None
        match = _JSON_OBJECT.search(content or "")
        if match is None:
            raise ClassifierError("judge answer holds no JSON object")
        try:
            verdict = orjson.loads(match.group(0))
        except orjson.JSONDecodeError:
            raise ClassifierError("judge answer holds malformed JSON") from None
        if not isinstance(verdict, dict):
            raise ClassifierError("judge verdict is not an object")
        return verdict

    def assess(self, conversation: Conversation) -> Assessment:
        text = conversation.text
        scores: dict[RedLineName, float] = dict.fromkeys(RED_LINES, 0.0)
        notes: dict[str, str] = {}
        for a, b in windows(len(text), JUDGE_WINDOW_CHARS, JUDGE_WINDOW_OVERLAP):
            verdict = self._ask(text[a:b])
            for rl in RED_LINES:
                value = verdict.get(rl)
                if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
                    raise ClassifierError(f"judge verdict for {rl} is not a number in [0, 1]")
                scores[rl] = max(scores[rl], float(value))
            rationale = verdict.get("rationale")
            if isinstance(rationale, str) and "rationale" not in notes:
                notes["rationale"] = rationale[:500]
        return Assessment(
            scores=scores,
            signals=fired_signals(self.policy, conversation.text),
            backend=self.name,
            locate=locator(self.policy, conversation),
            notes=notes,
        )

    def assess_many(self, conversations: list[Conversation]) -> list[Assessment]:
        return [self.assess(c) for c in conversations]
