"""Context-engineering recommendations (analysis/context.py), from traces imported into a real MLflow store
(chat transcripts, Langfuse traces, Inspect AI logs) and from the recorded autolog fixtures."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlflow_eval_mcp.analysis.context import EXAMPLES, MIN_UNITS
from mlflow_eval_mcp.checks.conversation import ModelCall
from mlflow_eval_mcp.importing import chat_transcript, inspect_ai, langfuse
from tests.analysis.context_corpus import (
    Imported,
    fixture_conversations,
    fixture_report,
    imported_report,
    recommendations,
    sized,
    words,
)

TURNS = 5
PROMPT_TOKENS = 100
TURN_TOKENS = 250
SHORT_SYSTEM = "You are the support agent of an online shop."
LOOP_STEPS = 5
MIN_TURNS_OF_EACH = 4
CORPUS = 12
START = datetime(2026, 1, 1, tzinfo=UTC)


# --- context_growth ------------------------------------------------------------------------------


def _growing(turn: int) -> int:
    return PROMPT_TOKENS + TURN_TOKENS * turn


def _flat(turn: int) -> int:
    return PROMPT_TOKENS


def _jumping(turn: int) -> int:
    """Flat, then three times as much on the last turn: a single jump, not growth turn over turn."""
    return PROMPT_TOKENS * (3 if turn == TURNS else 1)


def _session_turn(session: str, turn: int, *, history: bool, prompt_tokens: Callable[[int], int]) -> dict[str, Any]:
    """One turn of a chat session, each answer recording the prompt tokens it was sent. With `history` the app
    resends every earlier turn; without, it sends the new question alone."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": SHORT_SYSTEM}]
    for k in range(1 if history else turn, turn + 1):
        messages += [
            {"role": "user", "content": f"Question {k}: {sized('detail', 400)}"},
            {
                "role": "assistant",
                "content": f"Answer {k}: {sized('reply', 400)}",
                "usage": {"prompt_tokens": prompt_tokens(k), "completion_tokens": 60},
            },
        ]
    return {"id": f"{session}-turn-{turn}", "session_id": session, "model": "gpt-4o", "messages": messages}


def _sessions(count: int, *, history: bool, prompt_tokens: Callable[[int], int]) -> list[dict[str, Any]]:
    # Interleaved, as sessions run side by side; each record gets a later synthetic start than the one before.
    return [
        _session_turn(f"session-{index}", turn, history=history, prompt_tokens=prompt_tokens)
        for turn in range(1, TURNS + 1)
        for index in range(count)
    ]


def _tool_loop(index: int, *, system_chars: int, result_chars: int) -> dict[str, Any]:
    """An agent calling a search tool `LOOP_STEPS` times before it answers; no token counts recorded."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": sized("policy", system_chars)},
        {"role": "user", "content": sized("question", 200)},
    ]
    for step in range(LOOP_STEPS):
        call = {"id": f"call-{step}", "type": "function", "function": {"name": "search_orders", "arguments": "{}"}}
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call-{step}", "content": sized("result", result_chars)},
        ]
    messages.append({"role": "assistant", "content": "Here is what I found."})
    return {"id": f"loop-{index}", "model": "gpt-4o", "messages": messages}


@pytest.fixture(scope="module")
def growing_sessions(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    return imported_report(
        template_db, tmp_path_factory, chat_transcript.FORMAT, _sessions(6, history=True, prompt_tokens=_growing)
    )


@pytest.fixture(scope="module")
def growing_loops(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    loops = [_tool_loop(index, system_chars=200, result_chars=2_000) for index in range(CORPUS)]
    return imported_report(template_db, tmp_path_factory, chat_transcript.FORMAT, loops)


def test_input_growing_over_a_sessions_turns_is_reported_with_its_growth_per_turn(growing_sessions):
    [found] = recommendations(growing_sessions.report, "context_growth", scope="session")
    first, last = PROMPT_TOKENS + TURN_TOKENS, PROMPT_TOKENS + TURN_TOKENS * TURNS
    assert found.numbers == {
        "scope": "session",
        "units": 6,
        "growing": 6,
        "median_tokens_per_turn": TURN_TOKENS,
        "median_growth_ratio": round(last / first, 2),
        "largest_input_tokens": last,
        "estimated_units": 0,
    }
    assert f"a median {TURN_TOKENS} tokens more per turn" in found.title


def test_a_growing_sessions_example_is_its_last_trace(growing_sessions):
    [found] = recommendations(growing_sessions.report, "context_growth", scope="session")
    assert set(found.trace_ids) == {growing_sessions.trace_ids[f"session-{index}-turn-{TURNS}"] for index in range(6)}


def test_sessions_resending_only_the_new_turn_show_no_growth(template_db, tmp_path_factory):
    imported = imported_report(
        template_db, tmp_path_factory, chat_transcript.FORMAT, _sessions(6, history=False, prompt_tokens=_flat)
    )
    assert imported.report.sessions == 6
    assert recommendations(imported.report, "context_growth") == []


def test_a_single_jump_in_a_sessions_input_is_not_growth_turn_over_turn(template_db, tmp_path_factory):
    records = _sessions(6, history=False, prompt_tokens=_jumping)
    imported = imported_report(template_db, tmp_path_factory, chat_transcript.FORMAT, records)
    assert imported.report.sessions == 6
    assert recommendations(imported.report, "context_growth") == []


def test_too_few_sessions_are_not_called_a_pattern(template_db, tmp_path_factory):
    records = _sessions(MIN_UNITS - 1, history=True, prompt_tokens=_growing)
    imported = imported_report(template_db, tmp_path_factory, chat_transcript.FORMAT, records)
    assert recommendations(imported.report, "context_growth", scope="session") == []


def test_input_growing_call_over_call_within_traces_is_estimated_from_characters(growing_loops):
    [found] = recommendations(growing_loops.report, "context_growth", scope="trace")
    first_chars, step_chars = 200 + 200, 2_000
    assert found.numbers == {
        "scope": "trace",
        "units": CORPUS,
        "growing": CORPUS,
        "median_tokens_per_call": step_chars // 4,
        "median_growth_ratio": round((first_chars + LOOP_STEPS * step_chars) / first_chars, 2),
        "largest_input_tokens": (first_chars + LOOP_STEPS * step_chars) // 4,
        "estimated_units": CORPUS,
    }
    assert "estimated at 4 characters per token" in found.title


def test_examples_are_capped(growing_loops):
    [found] = recommendations(growing_loops.report, "context_growth", scope="trace")
    assert len(found.trace_ids) == EXAMPLES
    assert set(found.trace_ids) <= set(growing_loops.trace_ids.values())


def test_tool_loops_whose_results_are_small_beside_the_prompt_show_no_growth(template_db, tmp_path_factory):
    loops = [_tool_loop(index, system_chars=4_000, result_chars=40) for index in range(CORPUS)]
    imported = imported_report(template_db, tmp_path_factory, chat_transcript.FORMAT, loops)
    assert imported.report.model_calls == CORPUS * (LOOP_STEPS + 1)
    assert recommendations(imported.report, "context_growth") == []


def _agent_trace(index: int, calls: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """A Langfuse trace of model calls, each sent the messages given for it (no token counts recorded)."""
    at = START + timedelta(minutes=index)
    observations = [
        {
            "id": f"agent-{index}-call-{number}",
            "type": "GENERATION",
            "name": "chat",
            "model": "gpt-4o",
            "startTime": (at + timedelta(seconds=number)).isoformat(),
            "endTime": (at + timedelta(seconds=number, milliseconds=500)).isoformat(),
            "input": {"messages": messages},
            "output": {"role": "assistant", "content": "Noted."},
        }
        for number, messages in enumerate(calls)
    ]
    trace = {"id": f"agent-{index}", "timestamp": at.isoformat(), "input": "Find my order.", "output": "Found it."}
    return {"trace": trace, "observations": observations}


def _trimming_calls() -> list[list[dict[str, Any]]]:
    """An agent that keeps only the latest tool result, replacing older ones: its input stays under twice the
    first call's, although every call resends the earlier messages."""
    start = [{"role": "system", "content": sized("policy", 200)}, {"role": "user", "content": sized("question", 3_000)}]
    calls = []
    for step in range(LOOP_STEPS + 1):
        messages = list(start)
        for earlier in range(step):
            latest = earlier == step - 1
            messages += [
                {"role": "assistant", "content": f"Searching page {earlier}."},
                {"role": "tool", "content": sized("result", 2_000) if latest else "(removed)"},
            ]
        calls.append(messages)
    return calls


def _interleaved_calls() -> list[list[dict[str, Any]]]:
    """A planner and a searcher taking turns, each with its own prompt: the planner's input grows 800
    characters a call from 400, the searcher's from 2,800 (their sizes side by side zigzag)."""
    planner = [{"role": "system", "content": sized("plan", 100)}, {"role": "user", "content": sized("goal", 300)}]
    searcher = [{"role": "system", "content": sized("search", 100)}, {"role": "user", "content": sized("query", 2_700)}]
    calls = []
    for _ in range(MIN_TURNS_OF_EACH):
        calls += [list(planner), list(searcher)]
        planner += [{"role": "assistant", "content": sized("step", 400)}, {"role": "user", "content": sized("ok", 400)}]
        searcher += [
            {"role": "assistant", "content": sized("hit", 400)},
            {"role": "tool", "content": sized("doc", 400)},
        ]
    return calls


def test_an_agent_trimming_old_tool_results_is_measured_as_it_sent_them(template_db, tmp_path_factory):
    records = [_agent_trace(index, _trimming_calls()) for index in range(CORPUS)]
    imported = imported_report(template_db, tmp_path_factory, langfuse.FORMAT, records)
    assert imported.report.model_calls == CORPUS * (LOOP_STEPS + 1)
    assert recommendations(imported.report, "context_growth") == []


def test_agents_taking_turns_in_a_trace_are_judged_each_on_its_own_calls(template_db, tmp_path_factory):
    records = [_agent_trace(index, _interleaved_calls()) for index in range(CORPUS)]
    imported = imported_report(template_db, tmp_path_factory, langfuse.FORMAT, records)
    [found] = recommendations(imported.report, "context_growth", scope="trace")
    last = 400 + 800 * (MIN_TURNS_OF_EACH - 1)
    assert (found.numbers["growing"], found.numbers["median_tokens_per_call"]) == (CORPUS, 800 // 4)
    assert (found.numbers["median_growth_ratio"], found.numbers["largest_input_tokens"]) == (last / 400, last // 4)


# --- dominant_prefix and cacheable_prefix --------------------------------------------------------


def _prompted(index: int, *, system: str, question_chars: int) -> dict[str, Any]:
    return {
        "id": f"prompted-{index}",
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": sized(f"detail{index}", question_chars)},
            {"role": "assistant", "content": "Done."},
        ],
    }


@pytest.fixture(scope="module")
def long_prompt(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    """Every call starts with the same 6,000-character system prompt, before a 1,000-character question."""
    records = [_prompted(index, system=sized("policy", 6_000), question_chars=1_000) for index in range(CORPUS)]
    return imported_report(template_db, tmp_path_factory, chat_transcript.FORMAT, records)


def _recorded_tools(call: ModelCall) -> str:
    return call.span.encoded_attributes["mlflow.chat.tools"]


def _requested_tools(call: ModelCall) -> str:
    return json.dumps(call.span.inputs["tools"], ensure_ascii=False)


def _openai_shares(integration: str, tools_of: Callable[[ModelCall], str]) -> tuple[float, float]:
    """(system prompt + tool schemas, tool schemas) as shares of the characters the fixture's OpenAI-shaped
    calls sent: the tool schemas' JSON, and message contents as the request held them."""
    system = tools = others = 0
    for _, conversation in fixture_conversations(integration):
        for call in conversation.model_calls:
            tools += len(tools_of(call))
            for message in call.span.inputs["messages"]:
                if message["role"] == "system":
                    system += len(message["content"])
                else:
                    others += len(message.get("content") or "")
    total = system + tools + others
    return (system + tools) / total, tools / total


def test_a_system_prompt_taking_most_of_the_input_is_reported_with_its_share(long_prompt):
    [found] = recommendations(long_prompt.report, "dominant_prefix")
    assert found.numbers == {
        "prefix_share": round(6_000 / 7_000, 3),
        "system_share": round(6_000 / 7_000, 3),
        "tool_schema_share": 0.0,
        "prefix_tokens_per_call_estimate": 1_500,
        "calls": CORPUS,
        "calls_mostly_prefix": CORPUS,
    }
    assert "the system prompt alone 86%" in found.title


def test_tool_schemas_taking_most_of_the_input_are_reported_from_what_mlflow_recorded():
    prefix_share, tool_share = _openai_shares("openai", _recorded_tools)
    [found] = recommendations(fixture_report("openai"), "dominant_prefix")
    assert (found.numbers["prefix_share"], found.numbers["tool_schema_share"]) == (
        round(prefix_share, 3),
        round(tool_share, 3),
    )
    assert f"tool schemas alone {tool_share:.0%}" in found.title


def test_tool_schemas_only_the_request_carries_are_measured_too():
    prefix_share, tool_share = _openai_shares("litellm", _requested_tools)
    [found] = recommendations(fixture_report("litellm"), "dominant_prefix")
    assert (found.numbers["prefix_share"], found.numbers["tool_schema_share"]) == (
        round(prefix_share, 3),
        round(tool_share, 3),
    )


def test_a_short_prompt_before_long_questions_is_no_dominant_prefix(template_db, tmp_path_factory):
    records = [_prompted(index, system=sized("policy", 200), question_chars=3_000) for index in range(CORPUS)]
    imported = imported_report(template_db, tmp_path_factory, chat_transcript.FORMAT, records)
    assert imported.report.model_calls == CORPUS
    assert recommendations(imported.report, "dominant_prefix") == []


def test_a_long_prefix_repeated_without_cache_reads_is_reported_as_cacheable(long_prompt):
    [found] = recommendations(long_prompt.report, "cacheable_prefix")
    assert found.numbers == {
        "prefix_tokens_estimate": 1_500,
        "calls": CORPUS,
        "share_of_calls": 1.0,
        "cache_read_tokens": 0,
        "calls_recording_cache": 0,
        "served_share": 0.0,
    }
    assert "same ≈1,500-token prefix" in found.title
    assert "no cache reads are recorded" in found.title


def _inspect_log(*, cache_read: int) -> dict[str, Any]:
    """An Inspect AI log of `CORPUS` samples, each one model call sent the same 6,000-character system prompt
    and a 400-character question, recording 1,700 input tokens and `cache_read` cache-read tokens (from the
    second call on: the first one writes the cache)."""
    system = sized("policy", 6_000)
    samples = []
    for index in range(CORPUS):
        at = START + timedelta(minutes=index)
        usage = {"input_tokens": 1_700, "output_tokens": 20, "total_tokens": 1_720}
        if index:
            usage["input_tokens_cache_read"] = cache_read
        question = sized(f"question{index}", 400)
        event = {
            "event": "model",
            "model": "openai/gpt-4o",
            "timestamp": at.isoformat(),
            "completed": (at + timedelta(seconds=2)).isoformat(),
            "input": [{"role": "system", "content": system}, {"role": "user", "content": question}],
            "tools": [],
            "output": {
                "model": "gpt-4o",
                "choices": [{"message": {"role": "assistant", "content": "Done."}, "stop_reason": "stop"}],
                "usage": usage,
            },
        }
        output = {"choices": [{"message": {"role": "assistant", "content": "Done."}}]}
        samples.append({"id": index, "epoch": 1, "input": question, "events": [event], "output": output})
    return {"eval": {"task": "support", "task_id": "support-1", "model": "openai/gpt-4o"}, "samples": samples}


def test_cache_reads_covering_little_of_a_repeated_prefix_are_reported(template_db, tmp_path_factory):
    imported = imported_report(template_db, tmp_path_factory, inspect_ai.FORMAT, [_inspect_log(cache_read=300)])
    [found] = recommendations(imported.report, "cacheable_prefix")
    prefix_tokens = 1_700 * 6_000 / 6_400  # the prefix's share of the characters, of the recorded input tokens
    assert found.numbers == {
        "prefix_tokens_estimate": round(prefix_tokens),
        "calls": CORPUS,
        "share_of_calls": 1.0,
        "cache_read_tokens": 300 * (CORPUS - 1),
        "calls_recording_cache": CORPUS - 1,
        "served_share": round(300 / prefix_tokens, 3),
    }
    assert "cache reads cover only 19% of it" in found.title


def test_the_report_sums_the_recorded_input_and_cache_read_tokens(template_db, tmp_path_factory):
    report = imported_report(template_db, tmp_path_factory, inspect_ai.FORMAT, [_inspect_log(cache_read=300)]).report
    assert (report.traces, report.model_calls, report.input_tokens, report.cache_read_tokens) == (
        CORPUS,
        CORPUS,
        1_700 * CORPUS,
        300 * (CORPUS - 1),
    )


def test_a_prefix_the_cache_already_serves_is_not_reported(template_db, tmp_path_factory):
    imported = imported_report(template_db, tmp_path_factory, inspect_ai.FORMAT, [_inspect_log(cache_read=1_500)])
    assert imported.report.cache_read_tokens == 1_500 * (CORPUS - 1)
    assert recommendations(imported.report, "cacheable_prefix") == []


def test_a_repeated_prefix_shorter_than_any_cache_serves_is_not_reported(template_db, tmp_path_factory):
    records = [_prompted(index, system=sized("policy", 2_000), question_chars=300) for index in range(CORPUS)]
    imported = imported_report(template_db, tmp_path_factory, chat_transcript.FORMAT, records)
    assert recommendations(imported.report, "dominant_prefix")  # the prefix is there, and most of the input
    assert recommendations(imported.report, "cacheable_prefix") == []


# --- unused_retrieval ----------------------------------------------------------------------------

QUESTION = "How long does a refund take?"
REFUND_POLICY = (
    "Refunds reach the original payment method within 14 days once the warehouse confirms the parcel arrived."
)
SHIPPING_POLICY = "Parcels leave the Lyon warehouse by courier and are tracked door to door."
EXCHANGE_POLICY = "Exchanges for another size are free when requested through the customer portal."
REFUND_ANSWER = (
    "Your refund reaches the original payment method within 14 days, once the warehouse confirms it arrived."
)
FULL_ANSWER = (
    f"{REFUND_ANSWER} Parcels travel by courier from Lyon, and a size exchange is free through the customer portal."
)


def _rag_trace(index: int, documents: list[str], answer: str) -> dict[str, Any]:
    """A Langfuse trace: a retriever returning `documents` for the question, then the model call answering."""
    at = START + timedelta(minutes=index)
    searched, answered = at + timedelta(milliseconds=300), at + timedelta(seconds=2)
    return {
        "trace": {
            "id": f"rag-{index}",
            "name": "support_rag",
            "timestamp": at.isoformat(),
            "input": QUESTION,
            "output": answer,
        },
        "observations": [
            {
                "id": f"rag-{index}-search",
                "type": "RETRIEVER",
                "name": "search_policies",
                "startTime": at.isoformat(),
                "endTime": searched.isoformat(),
                "input": {"query": QUESTION},
                "output": [
                    {"page_content": text, "metadata": {"source": f"policy-{number}.md"}}
                    for number, text in enumerate(documents)
                ],
            },
            {
                "id": f"rag-{index}-answer",
                "type": "GENERATION",
                "name": "answer",
                "model": "gpt-4o",
                "startTime": searched.isoformat(),
                "endTime": answered.isoformat(),
                "input": {"messages": [{"role": "user", "content": QUESTION}]},
                "output": {"role": "assistant", "content": answer},
                "usageDetails": {"input": 900, "output": 40},
            },
        ],
    }


def test_retrieved_text_the_answer_does_not_use_is_reported_with_its_share(template_db, tmp_path_factory):
    unrelated = [words("giftcard", 150), words("loyalty", 150)]
    records = [_rag_trace(index, [REFUND_POLICY, *unrelated], REFUND_ANSWER) for index in range(6)]
    imported = imported_report(template_db, tmp_path_factory, langfuse.FORMAT, records)
    [found] = recommendations(imported.report, "unused_retrieval")
    retrieved = len(REFUND_POLICY) + sum(len(text) for text in unrelated)
    assert found.numbers == {
        "unused_share": round(sum(len(text) for text in unrelated) / retrieved, 3),
        "traces": 6,
        "documents": 18,
        "unused_documents": 12,
        "retrieved_tokens_per_trace_estimate": round(retrieved / 4),
        "median_retrieved_tokens_estimate": round(retrieved / 4),
    }
    assert set(found.trace_ids) == set(imported.trace_ids.values())


def test_retrieved_documents_the_answer_draws_on_are_not_reported(template_db, tmp_path_factory):
    documents = [REFUND_POLICY, SHIPPING_POLICY, EXCHANGE_POLICY]
    records = [_rag_trace(index, documents, FULL_ANSWER) for index in range(6)]
    imported = imported_report(template_db, tmp_path_factory, langfuse.FORMAT, records)
    assert imported.report.traces == 6
    assert recommendations(imported.report, "unused_retrieval") == []


# --- dominant_model ------------------------------------------------------------------------------


def _timed_call(index: int, model: str, seconds: float) -> dict[str, Any]:
    """One model call that took `seconds` (measured: every message has its time)."""
    at = START + timedelta(minutes=index)
    return {
        "id": f"timed-{index}",
        "model": model,
        "messages": [
            {"role": "user", "content": "Summarise my orders.", "timestamp": at.isoformat()},
            {
                "role": "assistant",
                "content": "Three orders, all shipped.",
                "timestamp": (at + timedelta(seconds=seconds)).isoformat(),
            },
        ],
    }


def _timed_corpus(slow_seconds: float, fast_seconds: float) -> list[dict[str, Any]]:
    half = CORPUS // 2
    return [_timed_call(index, "slow-model", slow_seconds) for index in range(half)] + [
        _timed_call(half + index, "fast-model", fast_seconds) for index in range(half)
    ]


def test_a_model_taking_most_of_the_cost_on_fewer_calls_is_reported():
    costs: dict[str, float] = defaultdict(float)
    priced: Counter[str] = Counter()
    for _, conversation in fixture_conversations("openai", "anthropic"):
        for call in conversation.model_calls:
            if call.cost is not None and call.model:
                costs[call.model] += call.cost
                priced[call.model] += 1
    [found] = recommendations(fixture_report("openai", "anthropic"), "dominant_model", measure="cost")
    assert (found.numbers["model"], found.numbers["share"], found.numbers["share_of_calls"]) == (
        "claude-sonnet-4-5",
        round(costs["claude-sonnet-4-5"] / sum(costs.values()), 3),
        round(priced["claude-sonnet-4-5"] / sum(priced.values()), 3),
    )


def test_a_model_costing_somewhat_more_per_call_is_not_called_dominant():
    # Gemini 2.5 Flash takes 58% of the cost on 47% of the calls: more than its share, not far more.
    report = fixture_report("gemini", "openai_responses")
    assert report.model_calls >= 20
    assert recommendations(report, "dominant_model", measure="cost") == []


def test_a_model_taking_most_of_the_model_call_time_is_reported(template_db, tmp_path_factory):
    imported = imported_report(template_db, tmp_path_factory, chat_transcript.FORMAT, _timed_corpus(8, 1))
    [found] = recommendations(imported.report, "dominant_model", measure="time")
    assert found.numbers == {
        "measure": "time",
        "model": "slow-model",
        "share": round(8 / 9, 3),
        "share_of_calls": 0.5,
        "models": 2,
        "calls": CORPUS,
        "total_ms": (8 + 1) * 1_000 * CORPUS / 2,
        "per_call_ratio": 8.0,
    }
    assert "slow-model takes 89% of model-call time on 50% of the calls" in found.title


def test_a_model_only_somewhat_slower_than_the_other_is_not_reported(template_db, tmp_path_factory):
    imported = imported_report(template_db, tmp_path_factory, chat_transcript.FORMAT, _timed_corpus(3, 2))
    assert imported.report.model_calls == CORPUS
    assert recommendations(imported.report, "dominant_model") == []
