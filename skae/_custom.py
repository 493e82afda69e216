"""User-supplied torch modules behind the skae estimator interface."""

from __future__ import annotations

import copy
import inspect
from numbers import Integral

from sklearn.utils._param_validation import Interval
from torch import nn

from . import _codec
from ._base import BaseAutoEncoder
from ._docstrings import fill_doc
from .modules.custom import UserAutoEncoderModule
from .modules.dense import DenseAutoEncoderModule

__all__ = ["ModuleAE"]

# The network ModuleAE() trains when given none: AutoEncoder's default one.
_DEFAULT_HIDDEN = (512,)
_DEFAULT_N_COMPONENTS = 8


@fill_doc
class ModuleAE(BaseAutoEncoder):
    """Your own torch encoder and decoder, trained and used as a scikit-learn transformer.

    Give either ``module``, a torch module with ``encode(x)`` and
    ``decode(z)`` methods, or ``encoder`` and ``decoder``. Given neither,
    it trains :class:`AutoEncoder`'s default network (one hidden layer of
    512 ReLU units each side, a linear code of ``n_components`` or 8 values,
    a linear output), so that ``ModuleAE()`` is a working default. The estimator
    brings everything else of skae: seeded training through skorch,
    validation and early stopping, ``transform``, ``inverse_transform``,
    ``score_samples``, ``partial_fit``, Pipelines, ``GridSearchCV`` and
    :meth:`summary`.

    Each part is given in one of two forms:

    * an unfitted ``nn.Module`` instance: it is deep-copied at every fit, so
      the instance you passed is never trained in place and ``clone`` works;
    * a class (or any callable) returning a module: it is called at fit with
      the keyword arguments it accepts among ``n_features`` (the input
      width) and ``n_components`` (when not None), so one class serves any
      data width and ``n_components`` can be tuned by ``GridSearchCV``.

    The modules take and return flat ``(n_samples, n_features)`` float32
    tensors; the encoder returns a 2-D ``(n_samples, n_components)`` code.
    A module's own ``forward``, when it defines one, is what training calls;
    it may return a tuple whose first element is the reconstruction.
    Define the classes at module level so that fitted estimators pickle.

    Parameters
    ----------
    module : nn.Module, class or callable, default=None
        A module with ``encode`` and ``decode`` methods. With ``encoder``
        and ``decoder`` also None, the default dense network above.
    encoder : nn.Module, class or callable, default=None
        Maps ``(n, n_features)`` to ``(n, n_components)``; used with
        ``decoder`` when ``module`` is None.
    decoder : nn.Module, class or callable, default=None
        Maps ``(n, n_components)`` back to ``(n, n_features)``.
    n_components : int or None, default=None
        Code width handed to classes that accept it. ``None`` takes the
        width the encoder produces; an int is also checked against it.
    {training_parameters}

    Attributes
    ----------
    {fitted_attributes}

    See Also
    --------
    AutoEncoder : The built-in dense model.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from torch import nn
    >>> from skae import ModuleAE
    >>> X = load_digits().data / 16
    >>> ae = ModuleAE(encoder=nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 4)),
    ...               decoder=nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 64)),
    ...               max_epochs=2, random_state=0).fit(X)
    >>> ae.n_components_
    4
    >>> ae.transform(X[:3]).shape
    (3, 4)
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        "module": [callable, None],
        "encoder": [callable, None],
        "decoder": [callable, None],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        module=None,
        *,
        encoder=None,
        decoder=None,
        n_components=None,
        loss="auto",
        optimizer="adam",
        optimizer_kwargs=None,
        lr=3e-3,
        lr_schedule="auto",
        weight_decay=0.0,
        batch_size="auto",
        max_epochs=100,
        shuffle=True,
        early_stopping=False,
        validation_fraction=None,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        callbacks=None,
        verbose=0,
        device="cpu",
        precision="32",
        random_state=None,
    ):
        super().__init__(
            n_components,
            loss=loss,
            optimizer=optimizer,
            optimizer_kwargs=optimizer_kwargs,
            lr=lr,
            lr_schedule=lr_schedule,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            shuffle=shuffle,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            warm_start=warm_start,
            callbacks=callbacks,
            verbose=verbose,
            device=device,
            precision=precision,
            random_state=random_state,
        )
        self.module = module
        self.encoder = encoder
        self.decoder = decoder

    # The user's network code: a file names its type, and load takes it again.
    _user_code_params = ("module", "encoder", "decoder")

    def _plan(self, X, target, y, call):
        plan = super()._plan(X, target, y, call)
        halves = (self.encoder is not None, self.decoder is not None)
        if self.module is not None and any(halves):
            raise ValueError(
                "Pass either module=... (with encode and decode methods) or encoder=... and "
                "decoder=..., not both."
            )
        if self.module is None and halves[0] != halves[1]:
            missing = "decoder" if halves[0] else "encoder"
            raise ValueError(
                f"{type(self).__name__} got one half of a network but {missing}=None: pass "
                "both encoder=... and decoder=..., or module=... (a module with encode and "
                "decode methods)."
            )
        return plan

    def _make_part(self, part, name, n_features):
        if isinstance(part, nn.Module):
            return copy.deepcopy(part)
        offered = {"n_features": n_features}
        if self.n_components is not None:
            offered["n_components"] = self.n_components
        try:
            parameters = inspect.signature(part).parameters
        except (TypeError, ValueError):
            parameters = {}
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        kwargs = {k: v for k, v in offered.items() if takes_all or k in parameters}
        built = part(**kwargs)
        if not isinstance(built, nn.Module):
            raise TypeError(
                f"{name}={part!r} returned {type(built).__name__}, not a torch.nn.Module; pass "
                "a module instance or a class building one."
            )
        return built

    def _build_module(self, n_features, target):
        if self.module is None and self.encoder is None:
            built = UserAutoEncoderModule(
                n_features,
                module=DenseAutoEncoderModule(
                    n_features,
                    _DEFAULT_N_COMPONENTS if self.n_components is None else self.n_components,
                    hidden_layer_sizes=_DEFAULT_HIDDEN,
                ),
            )
        elif self.module is not None:
            module = self._make_part(self.module, "module", n_features)
            methods = [getattr(module, name, None) for name in ("encode", "decode")]
            if not all(callable(method) for method in methods):
                raise ValueError(
                    f"module={type(module).__name__} has no encode and decode methods; add "
                    "them, or pass its halves as encoder=... and decoder=..."
                )
            built = UserAutoEncoderModule(n_features, module=module)
        else:
            built = UserAutoEncoderModule(
                n_features,
                encoder=self._make_part(self.encoder, "encoder", n_features),
                decoder=self._make_part(self.decoder, "decoder", n_features),
            )
        if self.n_components is not None and built.n_components != self.n_components:
            raise ValueError(
                f"n_components={self.n_components} but the encoder produces codes of width "
                f"{built.n_components}; make the module honour n_components, or set "
                "n_components=None."
            )
        return built


_codec.register("skae.ModuleAE", ModuleAE)
