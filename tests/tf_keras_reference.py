"""The seed's own code, run where it was written: tf.keras 2 on TensorFlow 2.15 (Keras 2.15).

This file runs in its own environment (`make` builds `.venv-tf`: tensorflow-cpu==2.15.1, the last TensorFlow
whose `tf.keras` is Keras 2), never inside pytest's, which holds Keras 3. The tests start it as a subprocess:

    .venv-tf/bin/python tests/tf_keras_reference.py OUT_DIR

and it writes one folder per case under OUT_DIR (see `write_case`): the models as .h5 files saved by tf.keras
2.15 before and after every iteration, every input as .npy, and the losses and forward passes as .npy/.json.

`define_discriminator` and `define_generator` are the seed's text (described in docs/seed.md) with
its imports. The seed does not show `define_gan` or its training loop; they are the usual Keras GAN recipe the
seed describes: D on a real batch with labels 1, D on `g_model.predict` fakes with labels 0, then the stack
G + D, D frozen, with labels 1.
"""
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402 (Keras 2.15, tf.keras itself in this environment)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.keras.initializers import RandomNormal  # noqa: E402
from tensorflow.keras.layers import (  # noqa: E402
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    Input,
    LeakyReLU,
    Reshape,
    UpSampling2D,
)
from tensorflow.keras.models import Sequential  # noqa: E402

# The seed writes Adam(lr=0.0001, ...). TensorFlow <= 2.10 honoured `lr`; from 2.11 to 2.15
# `tf.keras.optimizers.Adam` is a new class that drops `lr=` with only a logged warning and trains at its
# default 1e-3. The legacy class is the Adam those TensorFlow versions gave, and it honours `lr`.
from tensorflow.keras.optimizers.legacy import Adam  # noqa: E402

LATENT = 100
BATCH = 4
ITERATIONS = 5


# define the standalone discriminator model
def define_discriminator(in_shape=(128,128,3)):
    init = RandomNormal(mean=0.0, stddev=0.02)
    model = Sequential()
    # 128x128
    main_input = Input(shape=in_shape)  # noqa: F841 (in the seed, unused)
    model.add(Conv2D(64, (5,5), padding='same', input_shape=in_shape, kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(alpha=0.2))
    model.add(AveragePooling2D()) # downsample to 64x64

    model.add(Conv2D(128, (5,5), padding='same', kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(alpha=0.2))
    model.add(AveragePooling2D()) # downsample 32x32

    model.add(Conv2D(256, (5,5), padding='same', kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(alpha=0.2))
    model.add(AveragePooling2D()) # downsample 16x16

    model.add(Conv2D(512, (5,5), padding='same', kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(alpha=0.2))
    model.add(AveragePooling2D()) # downsample 8x8
    # dense classifier
    model.add(Flatten())
    model.add(Dense(1024))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Dense(512))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Dense(128))
    model.add(LeakyReLU(alpha=0.2))
    # output
    model.add(Dense(1, activation='sigmoid'))
    # compile model
    opt = Adam(lr=0.0001, beta_1=0.05) # low learning rate
    bce = tf.keras.losses.BinaryCrossentropy(from_logits=False)
    model.compile(loss=bce, optimizer=opt, metrics=['accuracy'])
    return model


# define the standalone generator model
def define_generator(latent_dim):
    model = Sequential()
    init = RandomNormal(mean=0.0, stddev=0.02)
    # foundation for 16x16 image
    model.add(Dense(64, input_dim=latent_dim))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Dense(512, input_dim=latent_dim))
    model.add(LeakyReLU(alpha=0.2))
    model.add(Dense(16384, input_dim=latent_dim))
    model.add(BatchNormalization(momentum=0.8))
    model.add(Reshape((16, 16, 64)))
    model.add(BatchNormalization(momentum=0.8))
    # upsample
    model.add(Conv2D(256, (5,5), padding='same', kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(alpha=0.2))
    model.add(BatchNormalization(momentum=0.8))
    model.add(UpSampling2D())
    # upsample
    model.add(Conv2D(128, (5,5), padding='same', kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(alpha=0.2))
    model.add(UpSampling2D())
    # upsample
    model.add(Conv2D(64, (5,5), padding='same', kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(alpha=0.2))
    model.add(UpSampling2D())
    # output layer
    model.add(Conv2D(3, (5,5), activation='tanh', padding='same', kernel_initializer=init))
    return model


# the usual recipe: the stack G + D with D frozen, compiled with the same optimizer settings as D
def define_gan(g_model, d_model):
    d_model.trainable = False
    model = Sequential()
    model.add(g_model)
    model.add(d_model)
    opt = Adam(lr=0.0001, beta_1=0.05)
    model.compile(loss=tf.keras.losses.BinaryCrossentropy(from_logits=False), optimizer=opt)
    return model


def train_iteration(g_model, d_model, gan_model, real, z_fake, z_gen):
    """The recipe's three train_on_batch calls. D was compiled while trainable, so tf.keras 2 trains it in its
    own train_on_batch although `d_model.trainable` is False by now; the stacked model never trains D."""
    n = real.shape[0]
    d_loss_real, d_acc_real = d_model.train_on_batch(real, np.ones((n, 1)))
    fake = g_model.predict(z_fake, verbose=0, batch_size=n)
    d_loss_fake, d_acc_fake = d_model.train_on_batch(fake, np.zeros((n, 1)))
    g_loss = gan_model.train_on_batch(z_gen, np.ones((n, 1)))
    return {"d_loss_real": d_loss_real, "d_loss_fake": d_loss_fake, "g_loss": g_loss,
            "d_acc_real": d_acc_real, "d_acc_fake": d_acc_fake}


def forward_passes(g_model, d_model, z, images, out: Path, tag: str):
    """G(z) and D(images) in inference and in training mode. A training-mode call moves the BN moving
    statistics in TensorFlow's eager mode, so the weights are put back afterwards.

    D is trainable here for the call: `define_gan` froze it, and a frozen BatchNormalization runs in inference
    mode whatever `training` says. (In its own train_on_batch D trains in training mode: tf.keras 2 restores
    the trainable state D was compiled with for the duration of the call.)"""
    saved = [m.get_weights() for m in (g_model, d_model)]
    d_model.trainable = True
    for training in (False, True):
        mode = "training" if training else "inference"
        np.save(out / f"{tag}_g_{mode}.npy", g_model(z, training=training).numpy())
        np.save(out / f"{tag}_d_{mode}.npy", d_model(images, training=training).numpy())
    # the moving statistics one training-mode call leaves behind, in layer order: [mean, variance] per BN
    for name, model in (("g", g_model), ("d", d_model)):
        moving = [w for layer in model.layers if isinstance(layer, BatchNormalization) for w in layer.get_weights()[2:]]
        np.savez(out / f"{tag}_{name}_moving_after_training_call.npz", *moving)
    for model, weights in zip((g_model, d_model), saved):
        model.set_weights(weights)
    d_model.trainable = False


def write_case(out: Path, seed: int, d_output_bias: float | None, iterations: int):
    """One case: models at every iteration boundary, inputs, losses and forward passes.

    d_output_bias: set D's last Dense bias to this value first (-40 makes D(x) < 1e-17 for every input,
    +40 makes it 1 - 1e-17), the D that has won.
    """
    out.mkdir(parents=True, exist_ok=True)
    tf.keras.utils.set_random_seed(seed)
    d_model = define_discriminator()
    g_model = define_generator(LATENT)
    gan_model = define_gan(g_model, d_model)
    if d_output_bias is not None:
        kernel, bias = d_model.layers[-1].get_weights()
        d_model.layers[-1].set_weights([kernel, np.full_like(bias, d_output_bias)])
    rng = np.random.default_rng(seed)
    z_probe = rng.standard_normal((BATCH, LATENT))
    images_probe = rng.uniform(-1, 1, (BATCH, 128, 128, 3))
    np.save(out / "z_probe.npy", z_probe)
    np.save(out / "images_probe.npy", images_probe)
    losses = []
    for step in range(iterations + 1):
        g_model.save(out / f"g_{step}.h5", include_optimizer=False)
        d_model.save(out / f"d_{step}.h5", include_optimizer=False)
        if step in (0, 2):
            forward_passes(g_model, d_model, z_probe, images_probe, out, f"forward_{step}")
        if step == iterations:
            break
        real = rng.uniform(-1, 1, (BATCH, 128, 128, 3))
        z_fake, z_gen = rng.standard_normal((BATCH, LATENT)), rng.standard_normal((BATCH, LATENT))
        for name, value in (("real", real), ("z_fake", z_fake), ("z_gen", z_gen)):
            np.save(out / f"{name}_{step}.npy", value)
        losses.append({k: float(v) for k, v in train_iteration(g_model, d_model, gan_model, real, z_fake, z_gen).items()})
    versions = {"tensorflow": tf.__version__, "keras": keras.__version__}
    (out / "case.json").write_text(json.dumps({"iterations": iterations, "losses": losses, "versions": versions}, indent=1))


CASES = {
    "fresh": dict(seed=1, d_output_bias=None, iterations=ITERATIONS),  # iteration 3 is the warmed-up case
    "d_certain_fakes_are_fake": dict(seed=2, d_output_bias=-40.0, iterations=1),  # D(G(z)) < 1e-7
    "d_certain_reals_are_real": dict(seed=3, d_output_bias=40.0, iterations=1),  # D(x) > 1 - 1e-7
}


def main():
    out = Path(sys.argv[1])
    names = sys.argv[2:] or list(CASES)
    tf.keras.backend.set_floatx("float64")
    for name in names:
        write_case(out / name, **CASES[name])
    print(json.dumps({"written": names, "tensorflow": tf.__version__, "keras": keras.__version__}))


if __name__ == "__main__":
    main()
