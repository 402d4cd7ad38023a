"""``opto.optimizers.utils`` as Trace's trainer examples and OptoPrimeV2 users call it."""

from opto.optimizers.utils import (
    extract_first_top_level_block,
    extract_reasoning_and_remainder,
    extract_top_level_blocks,
    extract_xml_like_data,
    print_color,
    strip_nested_blocks,
    truncate_expression,
)


def test_print_color_prints_ansi_codes(capsys):
    print_color("trained", "green")
    print_color("failed", "red")
    print_color("plain", "orange")
    print_color("nothing")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "\033[92mtrained\033[0m",
        "\033[91mfailed\033[0m",
        "plain\033[0m",
        "nothing\033[0m",
    ]


def test_print_color_also_logs_to_either_kind_of_logger(capsys):
    class OneArgument:
        def __init__(self):
            self.lines = []

        def log(self, message):
            self.lines.append(message)

    class TrainerStyle:
        def __init__(self):
            self.records = []

        def log(self, name, data, step, **kwargs):
            self.records.append((name, data, step))

    simple, trainer = OneArgument(), TrainerStyle()
    print_color("epoch 1 done", "blue", logger=simple)
    print_color("epoch 2 done", "blue", logger=trainer)
    assert simple.lines == ["epoch 1 done"]
    assert trainer.records == [("message", "epoch 2 done", 0)], "Trace raised TypeError here"
    assert capsys.readouterr().out.count("\033[94m") == 2


def test_truncate_expression():
    assert truncate_expression("x" * 5, 5) == "xxxxx"
    assert truncate_expression("x" * 6, 5) == "xxxxx...(skipped due to length limit)"


def test_top_level_blocks_are_nesting_aware():
    text = "a <b>1 <b>2</b> 3</b> </b> <b>4</b> <b>open"
    assert extract_top_level_blocks(text, "b") == ["1 <b>2</b> 3", "4"]
    assert extract_first_top_level_block(text, "b") == "1 <b>2</b> 3"
    assert extract_first_top_level_block("none here", "b") is None
    assert strip_nested_blocks("keep <b>x<b>y</b></b> this <b>cut", "b") == "keep  this"


def test_reasoning_and_remainder():
    assert extract_reasoning_and_remainder("no tags") == ("", "no tags")
    assert extract_reasoning_and_remainder("<reasoning> why </reasoning> rest") == ("why", " rest")
    assert extract_reasoning_and_remainder("<think>open", tag="think") == ("open", "")


def test_extract_xml_like_data_reads_an_optoprime_v2_reply():
    reply = """Sure.
<reasoning>x must grow</reasoning>
<variable><name>x0</name><value>
5
</value></variable>
<variable><name>x0</name><value>6</value></variable>
<variable><name>y0</name></variable>
"""
    assert extract_xml_like_data(reply) == {"reasoning": "x must grow", "variables": {"x0": "6"}}
    custom = "<think>t</think><param><key>a</key><val>1</val></param>"
    assert extract_xml_like_data(custom, "think", "param", "key", "val") == {
        "reasoning": "t",
        "variables": {"a": "1"},
    }
