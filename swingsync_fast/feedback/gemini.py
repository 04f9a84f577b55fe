"""GeminiProvider: coaching text from Gemini through google-genai's async client.

Streaming uses ``client.aio.models.generate_content_stream`` (SSE), whole
answers ``generate_content``. The base URL is never set here unless the
caller passes one, so google-genai's own ``GOOGLE_GEMINI_BASE_URL`` keeps
working. The client's own retries and automatic stream continuation are
turned off: the lane owns retries, and a resumed stream would repeat
pieces the player has already seen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from google import genai
from google.genai import errors, types

from .prompt import SYSTEM_INSTRUCTION, build_prompt
from .provider import ProviderError, Source
from .request import FeedbackRequest

DEFAULT_MODEL = "gemini-2.5-flash"

# Connection-level failures of either HTTP stack google-genai may use: worth another try.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = ()
for _module in ("httpx", "httpx2"):
    try:
        _TRANSPORT_ERRORS += (__import__(_module).TransportError,)
    except (ImportError, AttributeError):
        pass
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def _failure(exc: BaseException) -> ProviderError:
    """Name a google-genai / transport failure and say whether retrying may help."""
    if isinstance(exc, errors.APIError):
        code = exc.code or 0
        return ProviderError(f"http_{code}", str(exc.message or exc), transient=code in _TRANSIENT_STATUS)
    if isinstance(exc, errors.UnknownApiResponseError):
        return ProviderError("malformed", str(exc)[:200], transient=False)
    if isinstance(exc, _TRANSPORT_ERRORS):
        return ProviderError("transport", f"{type(exc).__name__}: {exc}", transient=True)
    return ProviderError("unexpected", f"{type(exc).__name__}: {exc}", transient=False)


def _text_of(response: types.GenerateContentResponse) -> str:
    """The answer text of one response (thought parts left out); ProviderError if the prompt was blocked."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        raise ProviderError("blocked", f"prompt blocked: {feedback.block_reason}", transient=False)
    if not response.candidates:
        return ""
    content = response.candidates[0].content
    if content is None or not content.parts:
        return ""
    return "".join(p.text for p in content.parts if p.text and not p.thought)


class GeminiProvider:
    source = Source.GEMINI

    def __init__(
        self,
        api_key: str,
        *,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        api_version: str | None = "v1beta",  # None: google-genai's default
        timeout_s: float | None = None,
        temperature: float = 0.4,
        max_output_tokens: int = 400,
        thinking_budget: int | None = 0,
    ) -> None:
        if not api_key:
            raise ValueError("GeminiProvider needs an API key")
        self.model = model
        http_options = types.HttpOptions(
            base_url=base_url,
            api_version=api_version,
            # google-genai's own timeout, in ms: a backstop under the lane's own deadlines.
            timeout=None if timeout_s is None else int(timeout_s * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        self._client = genai.Client(api_key=api_key, http_options=http_options)
        self._config = types.GenerateContentConfig(
            system_instruction=SYSTEM_INSTRUCTION,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
            # 0 turns thinking off on 2.5 Flash: the first piece comes sooner.
            thinking_config=None if thinking_budget is None else types.ThinkingConfig(thinking_budget=thinking_budget),
            automatic_continuation=False,
        )

    async def stream(self, request: FeedbackRequest) -> AsyncIterator[str]:
        try:
            responses = await self._client.aio.models.generate_content_stream(
                model=self.model, contents=build_prompt(request), config=self._config
            )
            async with aclosing(responses) as pieces:  # type: ignore[type-var]
                async for response in pieces:
                    text = _text_of(response)
                    if text:
                        yield text
        except ProviderError:
            raise
        except Exception as exc:
            raise _failure(exc) from exc

    async def complete(self, request: FeedbackRequest) -> str:
        try:
            response = await self._client.aio.models.generate_content(
                model=self.model, contents=build_prompt(request), config=self._config
            )
            return _text_of(response)
        except ProviderError:
            raise
        except Exception as exc:
            raise _failure(exc) from exc

    async def start(self) -> None:
        pass  # nothing to prepare: the client connects on the first call

    async def aclose(self) -> None:
        await self._client.aio.aclose()
