import pytest

from opto.llm import ScriptedLLM
from opto.trainer import ExactMatchGuide, Guide, LLMJudge, MetricGuide
from opto.trainer.guide import exact_match_metric


def test_metric_guide_from_a_two_argument_metric():
    guide = MetricGuide(lambda response, reference: float(response == reference))
    assert guide("2+2?", 4, 4) == (1.0, "Correct.")
    score, feedback = guide("2+2?", 5, 4)
    assert score == 0.0
    assert feedback == "Incorrect (score=0). Expected 4, got 5."
    assert guide.metric("2+2?", 5, 4) == 0.0


def test_metric_guide_from_a_three_argument_metric_sees_the_query():
    seen = []

    def metric(query, response, reference):
        seen.append(query)
        return response == reference

    assert MetricGuide(metric)("q", "a", "a")[0] is True
    assert seen == ["q"]
    assert ExactMatchGuide()("q", "a", "b") == (0.0, "Incorrect (score=0). Expected 'b', got 'a'.")
    assert exact_match_metric(None, 1, 1) == 1.0


def test_metric_guide_with_dict_scores_tuple_results_and_custom_feedback():
    guide = MetricGuide(lambda r, ref: {"acc": 1.0, "brevity": 0.5})
    assert guide.get_score_dict("q", "x", "y") == {"acc": 1.0, "brevity": 0.5}
    assert guide("q", "x", "y")[1] == "Incorrect (acc=1, brevity=0.5). Expected 'y', got 'x'."
    assert MetricGuide(lambda r, ref: (0.3, "say more"))("q", "x", "y") == (0.3, "say more")
    custom = MetricGuide(lambda r, ref: 0.2, feedback=lambda q, r, ref, s: f"{q}:{r}:{ref}:{s}")
    assert custom("q", "x", "y") == (0.2, "q:x:y:0.2")
    assert MetricGuide(lambda r, ref: 0.7, correct_at=0.5)("q", "x", "y")[1] == "Correct."


def test_metric_guide_needs_a_function():
    with pytest.raises(TypeError, match="function"):
        MetricGuide("exact")


def test_a_guide_without_get_feedback_says_so():
    with pytest.raises(NotImplementedError, match="get_feedback"):
        Guide()("q", "a", "b")


def test_a_subclass_gets_metric_and_score_dict_from_get_feedback():
    class Length(Guide):
        def get_feedback(self, query, response, reference=None, **kwargs):
            return len(response), f"{len(response)} characters"

    guide = Length()
    assert guide.metric("q", "abc") == 3
    assert guide.get_score_dict("q", "abc") == {"score": 3.0}
    assert guide.copy() is not guide


def test_llm_judge_scores_the_correctness_marker_and_returns_the_reply():
    llm = ScriptedLLM(["Correct [TERMINATE]", "Incorrect. The capital is Paris."])
    judge = LLMJudge(llm=llm)
    assert judge("Capital of France?", "Paris", "Paris") == (1.0, "Correct [TERMINATE]")
    score, feedback = judge("Capital of France?", "Lyon", "Paris")
    assert (score, feedback) == (0.0, "Incorrect. The capital is Paris.")
    prompt = llm.requests[-1]["messages"][-1]["content"]
    assert "Capital of France?" in prompt and "Lyon" in prompt and "Paris" in prompt
    assert "Correct [TERMINATE]" in prompt
    assert llm.requests[-1]["messages"][0]["role"] == "system"


def test_llm_judge_options():
    llm = ScriptedLLM(["YES", "no"])
    judge = LLMJudge(
        llm=llm, correctness_template="YES", use_formatted_response=True, temperature=0
    )
    score, feedback = judge("q", "a", "b")
    assert score == 1.0
    assert feedback.startswith("Query: q\nStudent's answer: a\nCorrect answer: b")
    assert llm.requests[0]["temperature"] == 0
    with pytest.raises(ValueError, match="reference"):
        judge("q", "a", None)


def test_llm_judge_builds_its_client_lazily():
    judge = LLMJudge(model="some-model")
    assert judge._llm is None


def test_save_and_load_keep_json_settings(tmp_path):
    judge = LLMJudge(llm=ScriptedLLM([]), system_prompt="Be strict.")
    path = judge.save(tmp_path / "judge.json")
    other = LLMJudge(llm=ScriptedLLM([]))
    other.load(path)
    assert other.system_prompt == "Be strict."
    assert isinstance(other.llm, ScriptedLLM)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="not an opto guide"):
        other.load(tmp_path / "bad.json")
