
import pytest

from console.intake.classify import Classification, classify, customer_mark

URGENT = ["urgent@example.com"]
SUPPORT = ["support@example.com", "help@example.com"]


@pytest.mark.parametrize(
    "subject, body, expected",
    [
        ("Class II: password reset", "", "II"),
        ("class ii password reset", "", "II"),
        ("CLASS 2 - new user", "", "II"),
        ("Class-2 new user", "", "II"),
        ("[II] new user", "", "II"),
        ("[ ii ] new user", "", "II"),
        ("Class III DNS down", "", "III"),
        ("Class 3 DNS down", "", "III"),
        ("[III] DNS down", "", "III"),
        ("class iii", "", "III"),
        ("Class three: link down", "", "III"),
        ("Class I question", "", "I"),
        ("Class 1 question", "", "I"),
        ("[I] question", "", "I"),
        # word boundaries
        ("classic car", "", None),
        ("classification question", "", None),
        ("Class 12 students", "", None),
        ("Class IIb thing", "", None),
        ("subclass II", "", None),
        ("[IV] roman four", "", None),
        ("[IIII]", "", None),
        ("no mark here", "", None),
        ("", "", None),
        # subject first, then body
        ("Class II", "Class III in body", "II"),
        ("question", "Hello,\nThis is Class II.\nThanks", "II"),
        ("question", "\n\n[III]\n", "III"),
        ("question", "l1\nl2\nl3\nl4\nl5\nClass III on line six", None),
        ("question", "l1\n\n\nl2\nl3\nl4\nClass II on the 5th non-empty line", "II"),
        ("question", "> Class III quoted\nplain text", None),
        ("question", "text\n-- \nClass III in signature", None),
        # highest mark in one place wins
        ("Class I or maybe Class III", "", "III"),
    ],
)
def test_customer_mark(subject, body, expected):
    assert customer_mark(subject, body) == expected


@pytest.mark.parametrize(
    "recipients, subject, body, default, expected_cls, reason_part",
    [
        (["urgent@example.com"], "hi", "", "I", "III", "sent to urgent@example.com"),
        (["URGENT@Example.COM"], "hi", "", "I", "III", "urgent@example.com"),
        (["support@example.com", "urgent@example.com"], "Class I", "", "I", "III", "urgent@example.com"),
        (["<Urgent@example.com>"], "hi", "", "I", "III", "urgent@example.com"),
        (["support@example.com"], "question", "", "I", "I", "sent to support@example.com"),
        (["Support@Example.com"], "Class II", "", "I", "II", "customer marked Class II in subject"),
        (["support@example.com"], "hello", "Class II please", "I", "II", "customer marked Class II in body"),
        (["help@example.com"], "[III] down", "", "I", "III", "customer marked Class III in subject"),
        (["someone@example.com"], "hi", "", "I", "I", "default class for unknown address"),
        (["someone@example.com"], "hi", "", "II", "II", "default class for unknown address"),
        (["someone@example.com"], "Class II", "", "I", "II", "customer marked Class II"),
        ([], "hi", "", "I", "I", "default class for unknown address"),
    ],
)
def test_classify(recipients, subject, body, default, expected_cls, reason_part):
    c = classify(recipients, subject, body, urgent=URGENT, support=SUPPORT, default_class=default)
    assert isinstance(c, Classification)
    assert c.cls == expected_cls
    assert reason_part in c.reason


def test_classify_accepts_generators_and_a_single_string():
    c = classify((r for r in ["urgent@example.com"]), "", "", urgent=iter(URGENT), support=iter(SUPPORT))
    assert c.cls == "III"
    assert classify("urgent@example.com", "", "", urgent=URGENT, support=SUPPORT).cls == "III"


def test_config_lists_are_case_insensitive():
    c = classify(["urgent@example.com"], "", "", urgent=["Urgent@EXAMPLE.com"], support=[])
    assert c.cls == "III"


def test_bad_default_class():
    with pytest.raises(ValueError):
        classify([], "", "", urgent=URGENT, support=SUPPORT, default_class="IV")


@pytest.mark.parametrize("subject", ["Class \u0130", "class \u0131i", "[\u0131]", "[\u0130\u0130]", "Class \u0130II"])
def test_look_alike_letters_are_no_mark_and_never_raise(subject):
    # re.IGNORECASE matches the Turkish dotted/dotless i to "i"; such a mark is ignored, not a KeyError
    assert customer_mark(subject, "") is None
    assert classify(["support@example.com"], subject, "", urgent=[], support=["support@example.com"]).cls == "I"
