"""The architecture review (analysis/architecture.py): the map of an agent, the components each kind of request
calls, calls that could run in parallel, results that go unused, tools never used, and the findings
`unnecessary_fanout` and `redundant_retrieval`. Hand-built traces go through a real store; the recorded
autolog fixtures show what real frameworks write, where none of these problems is planted."""

import dataclasses
import pickle

import pytest

from mlflow_eval_mcp.analysis.architecture import MAX_NAMES, OTHER_NAMES, ArchitectureTally
from mlflow_eval_mcp.analysis.models import InputCluster
from mlflow_eval_mcp.checks.call_graph import (
    TraceCalls,
    parallel_runs,
    redundant_retrievals,
    tools_offered_to,
    unneeded_subagents,
    unused_results,
)
from mlflow_eval_mcp.checks.conversation import Conversation
from tests.analysis.architecture_traces import (
    BILLING,
    REFUND_DOCUMENTS,
    RETURNS,
    SHIPPING,
    Step,
    agent_trace,
    model,
    order_and_weather,
    rag,
    read_back,
    retrievals,
    supervisor,
    tool,
)
from tests.checks.fixture_reading import conversation_of, recorded_conversation, recorded_scenarios
from tests.paths import AUTOLOG_FIXTURES

INTEGRATIONS = sorted(path.stem for path in AUTOLOG_FIXTURES.glob("*.json"))
DEFINING_TOOLS = sorted(set(INTEGRATIONS) - {"dspy", "otel_genai"})
"""Integrations whose model requests carry tool definitions (DSPy writes them into the prompt, the OTel
GenAI instrumentation leaves them out)."""


def _tally(conversations: list[tuple[str, Conversation]], *, timed: bool = True) -> ArchitectureTally:
    tally = ArchitectureTally()
    for trace_id, conversation in conversations:
        tally.add(trace_id, conversation, timed=timed)
    return tally


def _recorded(integration: str) -> list[tuple[str, Conversation]]:
    return [
        (f"{integration}:{record['scenario']}", conversation_of(record["trace"]))
        for record in recorded_scenarios(integration)
    ]


def _cluster(cluster_id: int, trace_ids: list[str]) -> InputCluster:
    return InputCluster(
        cluster_id=cluster_id, size=len(trace_ids), top_terms=["a", "b", "c", "d"], examples=[], trace_ids=trace_ids
    )


# ---- the map


def test_the_map_counts_the_calls_and_traces_of_each_tool_retriever_and_sub_agent(store_uri):
    traces = read_back(
        store_uri, [order_and_weather("one"), order_and_weather("two"), rag("rag"), supervisor("sup", SHIPPING)]
    )
    report = _tally(traces).report([])
    assert [(use.name, use.calls, use.traces) for use in report.tools] == [
        ("get_order_status", 2, 2),
        ("get_weather", 2, 2),
    ]
    assert [(use.name, use.calls, use.traces) for use in report.retrievers] == [("search_docs", 1, 1)]
    assert {(use.name, use.kind, use.traces) for use in report.sub_agents} == {
        ("billing_agent", "sub_agent", 1),
        ("returns_agent", "sub_agent", 1),
        ("shipping_agent", "sub_agent", 1),
    }


def test_an_agent_run_recorded_twice_is_not_a_sub_agent():
    # Pydantic AI records `Agent.run` inside `Agent.run_sync`: one agent, not a supervisor and its sub-agent.
    report = _tally(_recorded("pydantic_ai")).report([])
    assert report.sub_agents == []
    assert {use.name for use in report.tools} == {"get_order_status", "get_weather"}


def test_a_route_is_the_root_and_its_first_level_steps_seen_through_a_lone_wrapper():
    calls = TraceCalls(recorded_conversation("openai_agents", "multi_step"))
    assert calls.route() == "AgentRunner.run → triage_agent → orders_agent"


def test_model_calls_are_no_steps_of_a_route():
    assert TraceCalls(recorded_conversation("openai", "normal")).route() == "support_agent"
    assert TraceCalls(recorded_conversation("openai", "multi_step")).route() == (
        "support_agent → get_order_status → get_weather"
    )


def test_routes_are_counted_per_trace_with_the_first_trace_as_example(store_uri):
    traces = read_back(store_uri, [order_and_weather("one"), rag("rag"), order_and_weather("two")])
    routes = _tally(traces).report([]).routes
    assert [(route.route, route.traces, route.example_trace_id) for route in routes] == [
        ("agent → get_order_status → get_weather", 2, traces[0][0]),
        ("agent → search_docs", 1, traces[1][0]),
    ]


def test_names_beyond_the_tracked_number_are_pooled(store_uri):
    steps = [tool(f"tool_{index}", index, index + 1, {"n": index}, {"ok": index}) for index in range(MAX_NAMES + 5)]
    traces = read_back(store_uri, [agent_trace("many", "run them all", "done", steps)])
    tally = _tally(traces)
    assert len(tally.uses) == MAX_NAMES + 1
    assert tally.uses[("tool", OTHER_NAMES)].calls == 5


# ---- components per kind of request


def test_each_input_cluster_lists_the_components_its_traces_call_and_call_together(store_uri):
    traces = read_back(store_uri, [order_and_weather("one"), order_and_weather("two"), rag("rag")])
    orders, refunds = _cluster(0, [traces[0][0], traces[1][0]]), _cluster(1, [traces[2][0]])
    by_cluster = _tally(traces).report([orders, refunds]).by_input_cluster
    assert [(cluster.cluster_id, cluster.traces) for cluster in by_cluster] == [(0, 2), (1, 1)]
    assert by_cluster[0].components == {"tool:get_order_status": 2, "tool:get_weather": 2}
    assert by_cluster[0].together == {"tool:get_order_status + tool:get_weather": 2}
    assert by_cluster[1].components == {"retriever:search_docs": 1}


def test_a_cluster_none_of_whose_traces_were_tallied_is_left_out(store_uri):
    traces = read_back(store_uri, [rag("rag")])
    report = _tally(traces).report([_cluster(0, ["tr-elsewhere"]), _cluster(1, [traces[0][0]])])
    assert [cluster.cluster_id for cluster in report.by_input_cluster] == [1]


# ---- sequential calls that could run in parallel


def test_independent_calls_made_one_after_another_could_run_in_parallel(store_uri):
    traces = read_back(store_uri, [order_and_weather("independent")])
    parallelizable = _tally(traces).report([]).parallelizable
    assert (parallelizable.traces_judged, parallelizable.traces, parallelizable.calls) == (1, 1, 1)
    assert parallelizable.by_calls == {"get_order_status + get_weather": 1}
    assert parallelizable.example_trace_ids == [traces[0][0]]


def test_the_time_parallel_calls_could_save_is_their_summed_time_less_the_longest(store_uri):
    # 100 ms and 300 ms one after another: 100 ms saved, of a 610 ms request.
    traces = read_back(store_uri, [order_and_weather("independent")])
    parallelizable = _tally(traces).report([]).parallelizable
    assert (parallelizable.saved_ms_total, parallelizable.saved_ms_p50) == (100.0, 100.0)
    assert parallelizable.saved_share_p50 == pytest.approx(100 / 610, abs=1e-3)


def test_a_call_whose_inputs_hold_an_earlier_result_could_not(store_uri):
    # The weather is asked for where the order went, which only the order tool said.
    traces = read_back(store_uri, [order_and_weather("dependent", weather_needs_the_order=True)])
    parallelizable = _tally(traces).report([]).parallelizable
    assert (parallelizable.traces_judged, parallelizable.traces, parallelizable.calls) == (1, 0, 0)


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_recorded_agents_whose_second_tool_needs_the_first_have_nothing_to_parallelize(integration):
    conversation = recorded_conversation(integration, "multi_step")
    assert len(conversation.tool_calls) == 2
    assert parallel_runs(conversation) == []


def test_calls_that_already_overlap_are_not_reported(store_uri):
    traces = read_back(store_uri, [order_and_weather("overlapping", overlapping=True)])
    assert _tally(traces).report([]).parallelizable.traces == 0


def test_a_call_sharing_an_input_with_an_earlier_tool_stays_in_order(store_uri):
    # The status read after the address change must see the change.
    request = "Ship order A-1 to 12 Harbour Lane instead, and tell me its status."
    steps = [
        tool("update_address", 0, 100, {"order_id": "A-1", "address": "12 Harbour Lane"}, {"updated": True}),
        tool("get_order_status", 110, 200, {"order_id": "A-1"}, {"status": "address changed"}),
    ]
    traces = read_back(store_uri, [agent_trace("write-then-read", request, "Done; it ships Monday.", steps)])
    assert parallel_runs(traces[0][1]) == []


def test_a_call_after_a_failed_one_is_not_parallelizable(store_uri):
    request = "What's the weather in Paris and Rome?"
    steps = [
        tool("get_weather", 0, 100, {"city": "Paris"}, {"error": "weather service down"}),
        tool("get_forecast", 110, 200, {"city": "Rome"}, {"conditions": "sunny"}),
    ]
    traces = read_back(store_uri, [agent_trace("after-failure", request, "Rome is sunny.", steps)])
    assert parallel_runs(traces[0][1]) == []


def test_a_call_repeating_an_earlier_one_is_no_parallel_work(store_uri):
    record = retrievals(
        "reworded",
        ("search_docs", "How long does a refund take?", REFUND_DOCUMENTS),
        ("search_docs", "how long does the refund take", []),
    )
    traces = read_back(store_uri, [record])
    assert parallel_runs(traces[0][1]) == []


def test_traces_with_synthetic_times_are_not_judged(store_uri):
    traces = read_back(store_uri, [order_and_weather("untimed")])
    parallelizable = _tally(traces, timed=False).report([]).parallelizable
    assert (parallelizable.traces_untimed, parallelizable.traces_judged, parallelizable.traces) == (1, 0, 0)


# ---- results that go unused


def test_a_retrieval_whose_documents_reach_no_later_model_call_is_unused(store_uri):
    traces = read_back(store_uri, [rag("ignored", documents_reach_the_model=False), rag("used")])
    (unused,) = _tally(traces).report([]).unused_results
    assert (unused.name, unused.kind, unused.judged, unused.unused, unused.traces) == (
        "search_docs",
        "retriever",
        2,
        1,
        1,
    )
    assert unused.example_trace_ids == [traces[0][0]]


def test_results_passed_to_the_model_are_used(store_uri):
    traces = read_back(store_uri, [rag("used"), order_and_weather("orders")])
    assert _tally(traces).report([]).unused_results == []


def test_one_word_the_answer_shares_with_a_result_by_chance_does_not_make_it_used(store_uri):
    answer = "They go back to your original payment method in about a week."  # "original" is in a document
    traces = read_back(store_uri, [rag("ignored", documents_reach_the_model=False, answer=answer)])
    assert unused_results(traces[0][1]) == ["search_docs"]


def test_a_result_repeating_what_the_model_already_saw_is_not_judged(store_uri):
    request = "What's the weather where I live?"
    profile = {"role": "system", "content": "The customer lives in Lyon."}
    steps = [
        model(0, 50, [profile, {"role": "user", "content": request}]),
        tool("get_home_city", 60, 100, {}, {"city": "Lyon"}),
        model(110, 200, [profile, {"role": "user", "content": request}], "Mild in Lyon."),
    ]
    traces = read_back(store_uri, [agent_trace("known", request, "Mild in Lyon.", steps)])
    assert TraceCalls(traces[0][1]).result_uses() == []


def test_a_frameworks_ids_in_a_result_are_not_its_content(store_uri):
    # A LangChain tool message carries the id of the call the model made, which every later request repeats.
    request = "Which warehouse holds item X-9?"
    asked = {"role": "assistant", "content": "", "tool_calls": [{"id": "call_7", "function": {"name": "locate"}}]}
    result = {"content": "Bay 14 of the Tilbury depot", "tool_call_id": "call_7", "type": "tool"}
    steps = [
        model(0, 50, [{"role": "user", "content": request}]),
        tool("locate", 60, 100, {"item": "X-9"}, result),
        model(110, 200, [{"role": "user", "content": request}, asked], "I could not find it."),
    ]
    traces = read_back(store_uri, [agent_trace("ids", request, "I could not find it.", steps)])
    assert unused_results(traces[0][1]) == ["locate"]


def test_the_plural_of_a_word_of_the_request_is_nothing_new(store_uri):
    # The request asks about a "refund": "refunds" in the documents and the answer shows no use of them.
    answer = "Refunds are returned to the original payment method."
    traces = read_back(store_uri, [rag("ignored", documents_reach_the_model=False, answer=answer)])
    assert unused_results(traces[0][1]) == ["search_docs"]


def test_a_result_with_no_model_call_after_it_is_not_judged(store_uri):
    traces = read_back(store_uri, [rag("no-model", model_after=False)])
    assert TraceCalls(traces[0][1]).result_uses() == []


@pytest.mark.parametrize("integration", INTEGRATIONS)
def test_recorded_agents_pass_every_tool_result_to_the_model(integration):
    conversation = recorded_conversation(integration, "multi_step")
    judged = TraceCalls(conversation).result_uses()
    assert len(judged) == 2
    assert unused_results(conversation) == []


# ---- tools never used


def test_tools_offered_to_the_model_that_no_trace_calls_are_listed():
    report = _tally([("normal", recorded_conversation("openai", "normal"))]).report([])
    assert {(tool.name, tool.offered_in_traces) for tool in report.tools_never_used} == {
        ("get_order_status", 1),
        ("get_weather", 1),
    }


def test_a_tool_called_in_any_trace_is_not_listed():
    assert _tally(_recorded("openai")).report([]).tools_never_used == []


def test_a_tool_the_model_asked_for_is_called_whatever_its_span_is_named():
    # LlamaIndex names every tool span FunctionTool.acall.
    assert _tally(_recorded("llamaindex")).report([]).tools_never_used == []


def test_a_tool_offered_in_hand_built_traces_and_never_called_is_listed(store_uri):
    traces = read_back(store_uri, [order_and_weather("one"), order_and_weather("two")])
    assert [(tool.name, tool.offered_in_traces) for tool in _tally(traces).report([]).tools_never_used] == [
        ("cancel_order", 2)
    ]


def test_a_tool_called_before_any_request_offered_it_is_not_listed(store_uri):
    # The first trace's model request records no definitions; the second's offers the tool it called.
    question = [{"role": "user", "content": "Cancel order A-1."}]
    bare = Step("chat", "CHAT_MODEL", 0, 50, {"messages": question}, {"choices": [{"message": {"content": ""}}]})
    called = agent_trace(
        "called", "Cancel order A-1.", "Cancelled.", [bare, tool("cancel_order", 60, 90, {"id": "A-1"}, "ok")]
    )
    traces = read_back(store_uri, [called, order_and_weather("offered")])
    assert _tally(traces).report([]).tools_never_used == []


@pytest.mark.parametrize("integration", DEFINING_TOOLS)
def test_tool_definitions_are_read_in_each_providers_format(integration):
    conversation = recorded_conversation(integration, "normal")
    offered = {name for call in conversation.model_calls for name in tools_offered_to(call)}
    assert offered == {"get_order_status", "get_weather"}


# ---- unnecessary fan-out


def test_a_supervisor_calling_sub_agents_the_answer_does_not_use_is_unnecessary_fanout(store_uri):
    traces = read_back(
        store_uri, [supervisor("wasteful", SHIPPING), supervisor("needed", f"{SHIPPING} {BILLING} {RETURNS}")]
    )
    (finding,) = [f for f in _tally(traces).findings(traces_analyzed=2) if f.kind == "unnecessary_fanout"]
    assert finding.trace_ids == [traces[0][0]]
    assert (finding.count, finding.rate, finding.suggested_scorer) == (1, 0.5, "no_unnecessary_fanout")
    assert finding.details == {"fanout_traces": 2, "by:billing_agent": 1, "by:returns_agent": 1}
    assert "only the output of shipping_agent reaches the answer" in finding.trace_evidence[traces[0][0]]
    assert finding.evidence == [finding.trace_evidence[traces[0][0]]]


def test_unneeded_subagents_names_those_whose_output_missed_the_answer(store_uri):
    traces = read_back(store_uri, [supervisor("wasteful", SHIPPING)])
    assert unneeded_subagents(traces[0][1]) == ["billing_agent", "returns_agent"]


def test_sub_agents_whose_outputs_all_reach_the_answer_are_no_fanout(store_uri):
    traces = read_back(store_uri, [supervisor("all", "In short: INV-88 is paid, A-1 arrives Friday, label ready.")])
    assert unneeded_subagents(traces[0][1]) == []


def test_a_sub_agent_that_handed_off_is_routing_not_fanout(store_uri):
    request = "Where is my parcel A-1?"
    routed = "Routing you to the orders desk for parcel tracking."
    steps = [
        Step("triage_agent", "AGENT", 0, 100, {"task": request}, routed),
        tool("transfer_to_orders_agent", 40, 50, {}, {"assistant": "orders_agent"}, parent=0),
        Step("orders_agent", "AGENT", 110, 300, {"task": request}, SHIPPING),
    ]
    handing_off = read_back(store_uri, [agent_trace("handoff", request, SHIPPING, steps, root="supervisor")])
    assert unneeded_subagents(handing_off[0][1]) == []
    without_handoff = [steps[0], dataclasses.replace(steps[2], parent=None)]
    answering_alone = read_back(store_uri, [agent_trace("two", request, SHIPPING, without_handoff, root="supervisor")])
    assert unneeded_subagents(answering_alone[0][1]) == ["triage_agent"]


def test_a_sub_agent_saying_too_little_to_judge_is_not_unneeded(store_uri):
    traces = read_back(
        store_uri, [supervisor("terse", SHIPPING, {"billing_agent": "Nothing due.", "shipping_agent": SHIPPING})]
    )
    assert unneeded_subagents(traces[0][1]) == []


def test_a_sub_agent_feeding_the_one_that_answers_is_needed(store_uri):
    planner = "Check the warranty registry for serial SN-4471."
    researcher = "Registry entry SN-4471: coverage extended until 2027-06-30."
    traces = read_back(
        store_uri,
        [
            supervisor(
                "pipeline", "Your coverage runs until 2027-06-30.", {"planner": planner, "researcher": researcher}
            )
        ],
    )
    assert unneeded_subagents(traces[0][1]) == []


@pytest.mark.parametrize("integration", ["ag2", "openai_agents"])
def test_agents_taking_turns_or_handing_off_are_no_fanout(integration):
    # AG2's assistant and user proxy take turns; the Agents SDK's triage agent hands off to the orders agent.
    tally = _tally(_recorded(integration))
    assert tally.report([]).sub_agents
    assert tally.findings(traces_analyzed=10) == []


# ---- redundant retrieval


def test_the_same_query_run_again_by_one_retriever_is_redundant_retrieval(store_uri):
    repeated = retrievals(
        "again", ("search_docs", "refund time", REFUND_DOCUMENTS), ("search_docs", "refund time", REFUND_DOCUMENTS)
    )
    once = retrievals("once", ("search_docs", "refund time", REFUND_DOCUMENTS), ("search_docs", "gift cards", []))
    traces = read_back(store_uri, [repeated, once])
    (finding,) = _tally(traces).findings(traces_analyzed=2)
    assert (finding.kind, finding.trace_ids, finding.suggested_scorer) == (
        "redundant_retrieval",
        [traces[0][0]],
        "no_redundant_retrieval",
    )
    assert finding.trace_evidence == {traces[0][0]: "search_docs ran the query 'refund time' again"}
    assert finding.details == {"traces_with_several_retrievals": 2, "by:search_docs": 1}


def test_a_reworded_query_with_the_same_content_words_is_redundant(store_uri):
    record = retrievals(
        "reworded",
        ("search_docs", "How long does a refund take?", REFUND_DOCUMENTS),
        ("search_docs", "how long does the refund take", []),
    )
    traces = read_back(store_uri, [record])
    assert redundant_retrievals(traces[0][1]) == ["search_docs ran the query 'how long does the refund take' again"]


def test_documents_an_earlier_retrieval_returned_are_redundant_whatever_the_query(store_uri):
    record = retrievals(
        "same-documents",
        ("search_docs", "refund time", REFUND_DOCUMENTS),
        ("search_faq", "money back", [*REFUND_DOCUMENTS]),
    )
    traces = read_back(store_uri, [record])
    assert redundant_retrievals(traces[0][1]) == [
        "search_faq ('money back') returned 2 of its 2 documents again, after search_docs ('refund time')"
    ]


def test_retrievals_of_other_queries_and_documents_are_not_redundant(store_uri):
    gift = [{"page_content": "Gift cards never expire.", "metadata": {"doc_uri": "kb://9"}}]
    record = retrievals(
        "different",
        ("search_docs", "refund time", REFUND_DOCUMENTS),
        ("search_docs", "refund time for gift cards bought abroad", gift),
    )
    traces = read_back(store_uri, [record])
    assert redundant_retrievals(traces[0][1]) == []


def test_a_retry_after_a_failed_retrieval_is_not_redundant(store_uri):
    record = retrievals(
        "retry",
        ("search_docs", "refund time", REFUND_DOCUMENTS),
        ("search_docs", "refund time", REFUND_DOCUMENTS),
        failed_first=True,
    )
    traces = read_back(store_uri, [record])
    assert redundant_retrievals(traces[0][1]) == []


def test_the_same_query_asking_for_more_documents_is_not_redundant(store_uri):
    steps = [
        Step("search_docs", "RETRIEVER", 0, 80, {"query": "refund time", "k": 2}, REFUND_DOCUMENTS[:1]),
        Step("search_docs", "RETRIEVER", 100, 180, {"query": "refund time", "k": 10}, REFUND_DOCUMENTS[1:]),
    ]
    traces = read_back(store_uri, [agent_trace("more", "refund time", "5-7 business days.", steps)])
    assert redundant_retrievals(traces[0][1]) == []


# ---- findings and the tally


def test_a_finding_in_under_one_percent_of_traces_is_one_severity_lower(store_uri):
    tally = _tally(read_back(store_uri, [supervisor("wasteful", SHIPPING)]))
    assert [finding.severity for finding in tally.findings(traces_analyzed=10)] == ["medium"]
    assert [finding.severity for finding in tally.findings(traces_analyzed=1_000)] == ["low"]


def test_the_tally_keeps_small_facts_not_the_traces_texts(store_uri):
    request = "How long does a refund take?"
    page = [{"page_content": "Refund rules: " + "details " * 25_000}]
    records = [
        agent_trace(
            f"bulky-{index}",
            request,
            "About a week.",
            [
                Step("search_docs", "RETRIEVER", 0, 80, {"query": request}, page),
                model(90, 200, [{"role": "user", "content": request}], "About a week."),
            ],
        )
        for index in range(3)
    ]
    tally = _tally(read_back(store_uri, records))
    assert tally.traces == 3
    assert len(pickle.dumps(tally)) < 10_000


def test_a_trace_calling_only_a_model_maps_to_its_root_alone(store_uri):
    traces = read_back(store_uri, [agent_trace("chat", "hi there", "hello", [model(0, 10, [], "hello")])])
    report = _tally(traces).report([])
    assert (report.tools, report.retrievers, report.sub_agents) == ([], [], [])
    assert [route.route for route in report.routes] == ["agent"]
