"""The seed's own Keras code (docs/seed.md), transcribed for Keras 3: a speed reference (bench/seed_speed.py) and a
second check. The seed's own framework is tf.keras 2: tests/tf_keras_reference.py.

Changes for Keras 3, each forced by an API difference, none changing the maths:
- `Adam(lr=...)` is `Adam(learning_rate=...)` (Keras 3 removed `lr`);
- `input_shape=`/`input_dim=` on a layer become an `Input` first in the Sequential model;
- `LeakyReLU(alpha=...)` is `LeakyReLU(negative_slope=...)` (the same slope);
- `AveragePooling2D()` spells out tf.keras 2's default `pool_size=(2, 2)`, which Keras 3 requires.
The seed's `define_gan` and training loop are not in the seed; they are the usual Keras GAN recipe the
seed describes (D on real with 1, D on G.predict fakes with 0, then the stack G + D with D frozen, on 1).
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.initializers import RandomNormal  # noqa: E402
from keras.layers import (  # noqa: E402
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
from keras.models import Sequential  # noqa: E402
from keras.optimizers import Adam  # noqa: E402


def define_discriminator(in_shape=(128, 128, 3), n_blocks=4):
    init = RandomNormal(mean=0.0, stddev=0.02)
    model = Sequential([Input(shape=in_shape)])
    for filters in (64, 128, 256, 512)[:n_blocks]:
        model.add(Conv2D(filters, (5, 5), padding="same", kernel_initializer=init))
        model.add(BatchNormalization(momentum=0.8))
        model.add(LeakyReLU(negative_slope=0.2))
        model.add(AveragePooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(1024))
    model.add(LeakyReLU(negative_slope=0.2))
    model.add(Dense(512))
    model.add(LeakyReLU(negative_slope=0.2))
    model.add(Dense(128))
    model.add(LeakyReLU(negative_slope=0.2))
    model.add(Dense(1, activation="sigmoid"))
    opt = Adam(learning_rate=0.0001, beta_1=0.05)
    bce = keras.losses.BinaryCrossentropy(from_logits=False)
    model.compile(loss=bce, optimizer=opt, metrics=["accuracy"])
    return model


def define_generator(latent_dim):
    init = RandomNormal(mean=0.0, stddev=0.02)
    model = Sequential([Input(shape=(latent_dim,))])
    model.add(Dense(64))
    model.add(LeakyReLU(negative_slope=0.2))
    model.add(Dense(512))
    model.add(LeakyReLU(negative_slope=0.2))
    model.add(Dense(16384))
    model.add(BatchNormalization(momentum=0.8))
    model.add(Reshape((16, 16, 64)))
    model.add(BatchNormalization(momentum=0.8))
    model.add(Conv2D(256, (5, 5), padding="same", kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(negative_slope=0.2))
    model.add(BatchNormalization(momentum=0.8))
    model.add(UpSampling2D())
    model.add(Conv2D(128, (5, 5), padding="same", kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(negative_slope=0.2))
    model.add(UpSampling2D())
    model.add(Conv2D(64, (5, 5), padding="same", kernel_initializer=init))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(negative_slope=0.2))
    model.add(UpSampling2D())
    model.add(Conv2D(3, (5, 5), activation="tanh", padding="same", kernel_initializer=init))
    return model


def define_gan(g_model, d_model):
    d_model.trainable = False
    model = Sequential([g_model, d_model])
    opt = Adam(learning_rate=0.0001, beta_1=0.05)
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=False), optimizer=opt)
    return model


def train_iteration(g_model, d_model, gan_model, real, z_fake, z_gen):
    """One iteration of the recipe: three train_on_batch calls. Inputs are channels-last numpy arrays.

    tf.keras 2, which the seed was written for, fixed each model's trainable weights when it was
    compiled: d_model (compiled while trainable) kept training D, and gan_model (compiled after
    d_model.trainable = False) never did. Keras 3 reads `trainable` at every step instead, so the flag
    is set before each call to reproduce tf.keras 2. A frozen BatchNormalization runs in inference
    mode in both versions.
    """
    n = real.shape[0]
    dtype = keras.config.floatx()
    d_model.trainable = True
    d_real = d_model.train_on_batch(real, np.ones((n, 1), dtype))
    fake = g_model.predict(z_fake, verbose=0, batch_size=n)
    d_fake = d_model.train_on_batch(fake, np.zeros((n, 1), dtype))
    d_model.trainable = False
    g_loss = gan_model.train_on_batch(z_gen, np.ones((z_gen.shape[0], 1), dtype))
    return d_real, d_fake, g_loss
