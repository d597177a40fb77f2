
import pytest

from console.intake.callme import needs_details

CALL_ONLY = [
    ("Please call me", "Hi,\n\nI have a problem, please call me at 555-1212 to talk about it.\n\nThanks,\nBob"),
    ("", "I have a problem, please call me at 555-1212 to talk about it."),
    ("urgent", "Please call me."),
    ("Call me", "Give me a ring at (520) 324-0494 ext 12 when you can."),
    ("", "Hello team,\ncould you please call me back asap on +1 520 324 0494?\nRegards,\nJane Doe"),
    ("Re: [#42] help", "Phone me at 555-1212.\n-- \nJohn Smith\nACME Widgets, servers and network outage specialists"),
    ("question", "Can someone call me today? 555 1212\n\n"
                 "> Our DNS server has been down since nine and all\n> mail is bouncing back to our customers"),
    ("", "Hi Ann,\nI need a call back about an issue.\nCheers\nPete"),
    ("Class II", "please give us a call at 555-1212"),
]

NOT_CALL_ONLY = [
    ("help", "DNS is down since 9am, all our mail bounces. Call me at 555-1212"),
    ("DNS server down since 9am", "call me at 555-1212"),
    ("Printer question", "How do I configure the printer driver on Windows for duplex printing?"),
    ("", "I left a message on your voice mail"),
    ("Re: ticket", "Thanks, that fixed it."),
    ("", ""),
    ("new user", "Please add a mailbox for our new accountant Maria, starting Monday. Call me if anything is unclear."),
    ("", "The web server returns 502 errors for every page since the upgrade. Please call me at 555-1212."),
    ("Call center software", "Our call center software cannot reach the license server after the firewall change."),
]


@pytest.mark.parametrize("subject, body", CALL_ONLY)
def test_call_only_needs_details(subject, body):
    assert needs_details(subject, body) is True


@pytest.mark.parametrize("subject, body", NOT_CALL_ONLY)
def test_described_problem_does_not(subject, body):
    assert needs_details(subject, body) is False


@pytest.mark.parametrize(
    "subject, body",
    [
        ("x" * 100000, "1" * 200000 + "x"),
        ("", "call me " * 50000),
        ("", ("Hi " + "A" * 5000 + "\n") * 100),
        ("", "5" * 100000 + " call me"),
    ],
    ids=["digits", "repeated-request", "long-lines", "long-number"],
)
def test_pathological_input_is_fast_and_does_not_raise(subject, body):
    assert needs_details(subject, body) in (True, False)
