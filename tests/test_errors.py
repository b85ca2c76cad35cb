"""One public error tree, rooted at LionError, exported completely and in order."""

import inspect

import lion.errors as errors


def test_all_is_complete_and_sorted() -> None:
    public = {
        name
        for name, obj in vars(errors).items()
        if not name.startswith("_") and inspect.isclass(obj) and obj.__module__ == errors.__name__
    }
    assert set(errors.__all__) == public
    assert list(errors.__all__) == sorted(errors.__all__)


def test_every_exception_derives_from_lion_error() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, errors.LionError), name


def test_every_exception_is_drawn_in_the_module_docstring() -> None:
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        obj = getattr(errors, name)
        if (
            isinstance(obj, type)
            and issubclass(obj, errors.LionError)
            and obj is not errors.LionError
        ):
            assert name in doc, f"{name} is missing from the tree in lion/errors.py"


def test_located_error_shows_file_line_column_and_caret() -> None:
    loc = errors.SourceLocation("spec/a.lion", 2, 5, "fn f(: int)")
    err = errors.SpecError("unexpected `:`", loc)
    assert str(err) == "spec/a.lion:2:5: unexpected `:`\nfn f(: int)\n    ^"
