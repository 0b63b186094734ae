"""Reading YAML test files."""

import textwrap

from yamlrunner.loader import load_suite, load_yaml_documents


def test_scalars_follow_the_core_schema():
    (doc,) = load_yaml_documents(
        "a: yes\nb: no\nc: on\nd: 12:30\ne: 2024-01-01\nf: true\ng: 12\nh: 1.5\ni: null\nj: ~\n"
        "k: 0x10\nl: -3\n"
    )
    assert doc == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "12:30",
        "e": "2024-01-01",
        "f": True,
        "g": 12,
        "h": 1.5,
        "i": None,
        "j": None,
        "k": "0x10",
        "l": -3,
    }


def test_load_suite(tmp_path):
    path = tmp_path / "10_x.yml"
    path.write_text(
        textwrap.dedent(
            """\
            ---
            requires:
              stack: true
              serverless: false
            ---
            setup:
              - do: {cluster.health: {}}
            ---
            teardown:
              - do: {security.delete_role: {name: r, ignore: 404}}
            ---
            "First":
              - do: {security.authenticate: {}}
              - is_true: username
            ---
            "Second":
              - skip: {features: headers}
              - do: {security.authenticate: {}}
            """
        )
    )
    suite = load_suite(path, "folder")
    assert suite.key == "folder/10_x.yml"
    assert suite.requires == {"stack": True, "serverless": False}
    assert len(suite.setup) == 1 and len(suite.teardown) == 1
    assert [t.name for t in suite.tests] == ["First", "Second"]
    assert suite.tests[0].steps[1] == {"is_true": "username"}


def test_every_shared_file_loads():
    from yamlrunner.cases import yaml_suites

    suites = yaml_suites()
    assert len(suites) >= 20
    assert all(s.tests for s in suites)
