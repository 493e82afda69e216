"""Docstring fragments shared by the estimators, substituted rather than copied."""

from __future__ import annotations

import inspect
import re

_FRAGMENTS = {
    "dense_parameters": """\
n_components : int, default=8
        Size of the code.
    {dense_layer_parameters}
    output_activation : str, default="auto"
        Activation of the output; "auto" picks "sigmoid" when the training
        data lie in [0, 1] (images) and "linear" otherwise.
    {dense_regularization_parameters}""",
    "dense_layer_parameters": """\
hidden_layer_sizes : int or tuple of int, default=(512,)
        Widths of the encoder's hidden layers; the decoder uses them in
        reverse. ``()`` gives the one-layer model of the classic labs.
    activation : str, default="auto"
        Hidden activation: "relu", "leaky_relu", "elu", "selu", "gelu",
        "tanh", "sigmoid", "softplus" or "linear". "auto" picks "elu" for a
        linear code of an input of 256 features or more (28x28 images and
        larger), where it generalises better, and "relu" otherwise; the
        fitted ``activation_`` says which.
    code_activation : str, default="linear"
        Activation of the code layer, e.g. "tanh" for a bounded 2-D code.""",
    "dense_regularization_parameters": """\
dropout : float, default=0.0
        Dropout after each hidden layer; refused without hidden layers
        (use ``input_dropout`` there).
    input_dropout : float, default=0.0
        Dropout on the input itself (a light denoising regulariser).
    normalization : {"auto", "layer"} or None, default="auto"
        ``"layer"``: a LayerNorm after every hidden layer, before its
        activation, which keeps a bounded (tanh, sigmoid) code from
        saturating on images; it normalises each sample on its own, so
        outputs never depend on the batch. ``None``: plain layers.
        ``"auto"``: "layer" when ``code_activation`` is "tanh" or
        "sigmoid", else None.""",
    "conv_ae_parameters": """\
n_components : int or None, default=None
        Width of a dense bottleneck after the last stage, so that
        ``transform`` returns ``n_components`` values per image. ``None``:
        no bottleneck; the code is the flattened last feature map and
        ``n_components_`` reports its width.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)``. ``None`` treats each sample as a
        one-channel ``1 x n_features`` image (a 1-D signal, convolved along
        its length).
    {conv_parameters}
    activation : str, default="relu"
        Activation after every convolution, e.g. "relu", "leaky_relu", "elu".
    code_activation : str, default="linear"
        Activation of the dense bottleneck (used only with ``n_components``).
    output_activation : str, default="auto"
        Activation of the output; "auto" picks "sigmoid" when the training
        data lie in [0, 1] and "linear" otherwise.""",
    "noise_parameters": """\
noise : {"gaussian", "salt_and_pepper", "masking", "speckle", "uniform"} \
or NoiseAugmenter, default="gaussian"
        The corruption: a kind of noise of strength ``noise_level``, or a
        :class:`~skae.NoiseAugmenter`, whose ``kind``, ``level`` and ``clip``
        are used (its ``random_state`` is not: training draws from this
        estimator's ``random_state``). When the training data lie in [0, 1]
        (images), a kind's noisy values are clipped to [0, 1], as
        ``np.clip(noisy, 0, 1)`` in the classic labs; give
        ``NoiseAugmenter(kind, level=...)`` for unclipped noise.
    noise_level : float or None, default=None
        Strength of the noise when ``noise`` is a kind (see
        :func:`~skae.add_noise`); None means 0.2. With a NoiseAugmenter as
        ``noise`` the augmenter's ``level`` is used, and a ``noise_level``
        other than None is refused.""",
    "training_parameters": """\
loss : {"auto", "mse", "bce", "mae"}, default="auto"
        Reconstruction loss minimised in training. ``"bce"`` (binary
        cross-entropy) needs targets in [0, 1] and a sigmoid output.
        ``"auto"`` picks "bce" when the targets lie in [0, 1] and the output
        is a sigmoid (images), where the squared error can stall on a
        constant dark image, and "mse" otherwise. ``score`` and
        ``score_samples`` use the squared error whatever the loss.
    {optimization_parameters}""",
    "optimization_parameters": """\
optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, default="adam"
        Optimizer; a class such as ``torch.optim.NAdam`` is used as is.
        "adam" and "adamw" use torch's fused kernel on CPU and CUDA unless
        ``optimizer_kwargs`` sets ``fused`` or ``foreach``.
    optimizer_kwargs : dict or None, default=None
        Extra keyword arguments for the optimizer, e.g. ``{"momentum": 0.9}``.
    lr : float, default=3e-3
        Learning rate, at a batch of 64 when ``batch_size="auto"`` (which
        lowers it with smaller batches, see ``batch_size``); the rate
        trained at is ``lr_``.
    lr_schedule : {"auto", "cooldown", "constant", "cosine"}, default="auto"
        How the learning rate moves over the epochs of one ``fit``.
        "cooldown" trains at ``lr`` and, over the last fifth of
        ``max_epochs``, lowers it along half a cosine to near 0, which
        settles the weights (see the user guide's "Defaults that train");
        "cosine" lowers it along half a cosine from the first epoch;
        "constant" keeps ``lr``. "auto" is "cooldown", or "constant" when
        ``callbacks`` holds a skorch ``LRScheduler``, which then sets the
        rate alone (any other schedule beside one is refused). A
        warm-started ``fit`` runs the schedule anew over its own
        ``max_epochs``; ``partial_fit`` (one epoch) trains at ``lr``. The
        rate of each epoch is recorded in ``net_.history[:, "lr"]``.
    weight_decay : float, default=0.0
        L2 penalty handed to the optimizer.
    batch_size : int or "auto", default="auto"
        Samples per training batch. "auto" is resolved in each ``fit``
        (``batch_size_``): the largest of 8, 16, 32 and 64 that still gives
        32 batches per epoch, so 64 from 2,048 rows up, and smaller batches,
        hence more optimizer steps, on small data, each trained at ``lr``
        times the square root of the batch over 64 (``lr_``); 64 at ``lr``
        in ``partial_fit``, which sees one chunk, not the data set. An
        integer trains at ``lr`` as given. Inference picks its own batches,
        whatever this is.
    max_epochs : int, default=100
        Passes over the training data in ``fit`` (fewer with early stopping).
    shuffle : bool, default=True
        Reshuffle the training data every epoch.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop once the
        validation loss has not improved by ``tol`` for ``n_iter_no_change``
        epochs, and restore the weights of the best epoch.
    validation_fraction : float or None, default=None
        Fraction of the training data held out to compute
        ``validation_loss_curve_``. ``None`` means 0.1 when
        ``early_stopping=True`` and no validation otherwise.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    tol : float, default=1e-4
        Smallest decrease of the validation loss that counts as improvement.
    warm_start : bool, default=False
        When True, ``fit`` continues training the fitted network instead of
        starting afresh. A continued fit (this, or ``partial_fit``) applies
        a changed ``max_epochs``, ``lr``, ``batch_size`` or ``shuffle``, and
        refuses with a ``ValueError`` any other parameter changed since the
        network was built; if it fails, the model is left as it was.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (instances or ``(name, callback)`` pairs),
        copied at each fit.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar and the per-epoch table.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when
        available). Resolved at fit time. Training data that fit in half
        the device's free memory are moved there whole; larger data and
        memmaps stream in blocks (pinned host memory, asynchronous copies).
    precision : {"32", "bf16", "16-mixed"}, default="32"
        Arithmetic of the forward pass in training and inference. ``"32"``
        is float32 throughout. ``"bf16"`` runs the network under bfloat16
        autocast (CPU and CUDA); weights, optimizer and loss stay float32.
        ``"16-mixed"`` runs it under float16 autocast with loss scaling,
        and needs a CUDA device: on the CPU it raises (use ``"bf16"``).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout, corruption and the
        validation split, without touching global random state. The same
        integer gives identical results on the same machine, torch version
        and number of torch threads.""",
    "conv_parameters": """\
channels : int or tuple of int, default={default:channels}
        Output channels of the encoder's convolution stages; each stage but
        the last is followed by a factor-2 downsampling, and the decoder
        uses all but the last in reverse.
    kernel_size : int, default=3
        Odd kernel size of every convolution ("same" padding).
    downsample : {"pool", "stride"}, default="pool"
        ``"pool"``: 2x2 max pooling after each stage but the last;
        ``"stride"``: stride-2 convolutions instead.
    upsample : {"upsample", "transpose"}, default="upsample"
        ``"upsample"``: convolution then nearest-neighbour resizing;
        ``"transpose"``: stride-2 transposed convolutions.""",
    "fitted_attributes": """\
net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module.
    n_components_ : int
        Width of the code returned by ``transform``.
    loss_curve_ : list of float
        Mean training loss per epoch.
    validation_loss_curve_ : list of float
        Validation loss per epoch (only when validating).
    n_iter_ : int
        Number of epochs trained.
    loss_ : str
        The training loss used (``loss`` with "auto" resolved).
    batch_size_ : int
        The training batch size of the last ``fit`` or ``partial_fit``
        (``batch_size`` with "auto" resolved).
    lr_ : float
        The learning rate it trained at (``lr``, scaled with the batch
        when ``batch_size="auto"``).
    noise_ : NoiseRecipe or None
        The corruption the model was trained to undo, with which ``score``
        corrupts the clean data it judges: a denoiser's recipe, or that of
        the :class:`~skae.NoiseAugmenter` whose data it was fitted on (in a
        Pipeline); None otherwise.
    code_mean_ : ndarray of shape (n_components_,)
        Mean of the codes of the training data (of the last ``fit``, or of
        every chunk since the first ``partial_fit``, pooled; a random subset
        of 4,096 rows of a larger call); with ``code_std_`` it defines the
        diagonal Gaussian that ``sample`` decodes.
    code_std_ : ndarray of shape (n_components_,)
        Standard deviation of the codes of the training data.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column names.""",
}


def fill_doc(obj):
    """Replace ``{name}`` placeholders of shared fragments in ``obj.__doc__``.

    ``{default:param}`` in a fragment becomes the default of ``param`` in
    ``obj``'s signature, for parameters whose default differs by class.
    """
    doc = obj.__doc__
    if doc:
        for _ in range(2):  # fragments may hold fragments
            for name, text in _FRAGMENTS.items():
                doc = doc.replace("{" + name + "}", text)
        parameters = inspect.signature(obj).parameters
        doc = re.sub(r"\{default:(\w+)\}", lambda m: repr(parameters[m.group(1)].default), doc)
        obj.__doc__ = doc
    return obj
