from hapair.spec.locate import key_lines, line_of

DOC = """\
name = "x"   # line 1

[networks.public]
cidr = "10.0.0.0/24"
bond = { name = "bond1", mode = "active-backup" }

[[nodes]]
name = "a"
tags = [
  "x = 1",
  "y",
]
priority = 1

[[nodes]]
"name" = "b"
sub.key = 3

[nodes.extra]
k = 1
"""


def test_every_key_has_its_line() -> None:
    lines = key_lines(DOC)
    assert lines[("name",)] == 1
    assert lines[("networks", "public")] == 3
    assert lines[("networks", "public", "cidr")] == 4
    assert lines[("networks", "public", "bond")] == 5
    assert lines[("nodes", 0)] == 7
    assert lines[("nodes", 0, "name")] == 8
    assert lines[("nodes", 0, "tags")] == 9
    assert lines[("nodes", 0, "priority")] == 13
    assert lines[("nodes", 1, "name")] == 16
    assert lines[("nodes", 1, "sub", "key")] == 17
    assert lines[("nodes", 1, "extra", "k")] == 20


def test_keys_inside_a_multiline_array_are_not_keys() -> None:
    assert ("nodes", 0, "x") not in key_lines(DOC)


def test_inner_paths_fall_back_to_the_enclosing_key() -> None:
    lines = key_lines(DOC)
    assert line_of(lines, ("networks", "public", "bond", "mode")) == 5
    assert line_of(lines, ("nodes", 0, "tags", 1)) == 9
    assert line_of(lines, ("nodes", 1, "missing")) == 15
    assert line_of(lines, ("nowhere",)) is None


def test_example_specs_locate_every_node_field(m2l_text: str) -> None:
    lines = key_lines(m2l_text)
    text_lines = m2l_text.splitlines()
    for i in (0, 1):
        for field in ("name", "ssh", "interconnect", "public", "priority", "server_id"):
            number = lines[("nodes", i, field)]
            assert text_lines[number - 1].startswith(f"{field} =")
