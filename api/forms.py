"""PATCH and POST bodies go through the very forms the pages use: one set of rules."""

from django.forms.models import model_to_dict

from .errors import ApiError


def apply_form(form_class, instance, changes, *, partial=True, **kwargs):
    """The form bound to `instance`'s values with `changes` over them; ApiError(400) with each
    field's errors if it does not validate. Returns the valid form (not saved)."""
    form = form_class(**kwargs, instance=instance)
    data = model_to_dict(instance, fields=list(form.fields)) if partial and instance.pk else {}
    data.update({name: value for name, value in changes.items() if name in form.fields})
    unknown = sorted(set(changes) - set(form.fields))
    if unknown:
        raise ApiError(400, f"Unknown field(s): {', '.join(unknown)}. Fields: {', '.join(form.fields)}.")
    form = form_class(data, **kwargs, instance=instance)
    if not form.is_valid():
        errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
        raise ApiError(400, errors)
    return form
