"""zoo.docstrings.add_raises: entries land in the Raises section, in type order."""
import inspect

from zoo.docstrings import add_raises


def test_entries_go_into_the_section_in_type_order():
    def f():
        """Math.

        Raises:
            TypeError: a.
            ShapeError: a long entry that is wrapped over two lines because it is longer than
                one line.
            InputError: c.
        """
    add_raises(f, "OptionError: b.", "DTypeError: d.", "ValueError: e.")
    assert inspect.getdoc(f).splitlines()[2:] == [
        "Raises:", "    TypeError: a.", "    OptionError: b.",
        "    ShapeError: a long entry that is wrapped over two lines because it is longer than",
        "        one line.", "    DTypeError: d.", "    InputError: c.", "    ValueError: e."]


def test_a_docstring_without_the_section_gets_one():
    def f():
        """Math.

        Examples:
            >>> 1
        """
    add_raises(f, "TypeError: an unknown keyword.")
    assert inspect.getdoc(f).endswith(">>> 1\n\nRaises:\n    TypeError: an unknown keyword.")
