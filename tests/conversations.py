"""Hand-built conversations, one per conversation-level signal plus clean ones, as OpenAI-style
chat transcripts: the project's chat importer writes them into a real store as traces."""

import json
from pathlib import Path


def _user(text):
    return {"role": "user", "content": text}


def _assistant(text):
    return {"role": "assistant", "content": text}


def _call(call_id, name, arguments, result):
    """An assistant turn calling `name`, and the tool's reply."""
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": result},
    ]


CONVERSATIONS = {
    # name -> (messages, the signals it shows)
    "clean_question": ([_user("What is the baggage allowance?"), _assistant("Two checked bags of 23 kg each.")], set()),
    "clean_booking": (
        [
            _user("Book me on flight HAT170 on May 5."),
            *_call("c1", "book_reservation", {"flight": "HAT170", "date": "2024-05-05"}, '{"reservation": "R1"}'),
            _assistant("I've booked flight HAT170 on May 5; your reservation is R1."),
        ],
        set(),
    ),
    "clean_follow_up": (
        [
            _user("Where is my order ORD-1?"),
            _assistant("It shipped yesterday."),
            _user("Thanks, and when will it arrive?"),
            _assistant("On Friday."),
        ],
        set(),
    ),
    "refusal_is_no_apology": (
        [_user("Write me malware."), _assistant("I'm sorry, but I cannot assist with that.")],
        set(),
    ),
    "past_fact_is_no_claim": (
        [
            _user("Where is my order ORD-2?"),
            *_call("c1", "get_order", {"id": "ORD-2"}, '{"status": "placed"}'),
            _assistant("Your order ORD-2 was placed on Nov 11 and is being prepared."),
        ],
        set(),
    ),
    "correction": (
        [
            _user("Change my flight to May 5."),
            _assistant("Done, your flight is now on May 15."),
            _user("No, I said May 5, not May 15."),
            _assistant("Understood, May 5 it is."),
        ],
        {"user_correction"},
    ),
    "repeat": (
        [
            _user("Can I still return the blue backpack after 30 days?"),
            _assistant("Our store opens at 9 am."),
            _user("Can I still return the blue backpack after 30 days"),
            _assistant("Returns close 30 days after delivery."),
        ],
        {"user_repeat"},
    ),
    "frustration": (
        [
            _user("Where is my refund?"),
            _assistant("Refunds take 5 to 7 days."),
            _user("It has been three weeks, this is ridiculous."),
            _assistant("Let me check the refund status for you."),
        ],
        {"user_frustration"},
    ),
    "human": (
        [
            _user("My card was charged twice."),
            _assistant("Could you give me the order number?"),
            _user("Just let me speak to a human."),
            _assistant("Of course, here is the phone number of our support team: 555-0100."),
        ],
        {"human_requested"},
    ),
    "apology": (
        [
            _user("How many bags can I check?"),
            _assistant("You can check three bags."),
            _user("Are you sure?"),
            _assistant("My mistake: basic economy allows one checked bag."),
        ],
        {"agent_apology"},
    ),
    "escalation_by_tool": (
        [
            _user("I need to change the name on my ticket."),
            *_call("c1", "transfer_to_human_agents", {"summary": "name change"}, "Transfer successful"),
            _assistant("YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."),
        ],
        {"escalation"},
    ),
    "retry": (
        [
            _user("What is the status of order 7?"),
            *_call("c1", "get_order", {"id": "7"}, "Error: order id must look like ORD-<n>"),
            *_call("c2", "get_order", {"id": "ORD-7"}, '{"status": "shipped"}'),
            _assistant("Order ORD-7 has shipped."),
        ],
        {"retry_after_tool_error"},
    ),
    "gave_up": (
        [
            _user("What is the status of order ORD-8?"),
            *_call("c1", "get_order", {"id": "ORD-8"}, "Error: orders service unavailable"),
            _assistant("I could not look that up right now, please try again later."),
        ],
        {"gave_up_after_tool_error"},
    ),
    "write_twice": (
        [
            _user("Refund order ORD-9."),
            *_call("c1", "issue_refund", {"order": "ORD-9"}, '{"refund": "F1"}'),
            *_call("c2", "issue_refund", {"order": "ORD-9", "amount": 10}, '{"refund": "F2"}'),
            _assistant("Order ORD-9 is refunded."),
        ],
        {"repeated_write_action"},
    ),
    "abandoned": (
        [
            _user("Where is my order ORD-10?"),
            _assistant("It shipped on Monday."),
            _user("What is the tracking number?"),
        ],
        {"abandoned"},
    ),
    "unbacked": (
        [
            _user("Please cancel my reservation ABC123."),
            *_call("c1", "get_reservation_details", {"id": "ABC123"}, '{"status": "confirmed"}'),
            _assistant("I've cancelled your reservation ABC123."),
        ],
        {"unbacked_claim"},
    ),
}


def write_transcripts(path: Path, names: list[str] | None = None) -> Path:
    """The conversations (all, or `names`) as a JSONL file of transcripts, each tagged `case=<name>`."""
    chosen = names or sorted(CONVERSATIONS)
    lines = [{"id": name, "metadata": {"case": name}, "messages": CONVERSATIONS[name][0]} for name in chosen]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    return path


def session_records(name: str, session_id: str | None = None, *, history: bool = False) -> list[dict]:
    """Conversation `name` as a chat app records it: one transcript per user turn in session
    `session_id` (default: the name), holding that turn alone or, with `history`, the turns before it too."""
    messages = CONVERSATIONS[name][0]
    starts = [index for index, message in enumerate(messages) if message["role"] == "user"]
    ends = [*starts[1:], len(messages)]
    return [
        {
            "id": f"{name}-turn-{turn}",
            "session_id": session_id or name,
            "metadata": {"case": name},
            "messages": messages[0 if history else start : end],
        }
        for turn, (start, end) in enumerate(zip(starts, ends, strict=True), start=1)
    ]


def write_sessions(path: Path, names: list[str], *, singles: int = 0) -> Path:
    """The conversations `names` as sessions of one trace per turn, each turn alone (turns interleaved,
    as sessions run side by side), then `singles` one-question clean conversations outside any session."""
    sessions = [session_records(name) for name in names]
    lines = [records[turn] for turn in range(max(map(len, sessions))) for records in sessions if turn < len(records)]
    question = CONVERSATIONS["clean_question"][0]
    lines += [{"id": f"single-{index}", "messages": question} for index in range(singles)]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    return path
