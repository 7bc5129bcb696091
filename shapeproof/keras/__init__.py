"""Keras interop, above analysis and code generation: Keras files in, Keras models out.

    from shapeproof.keras.importer import import_keras    # .keras / model JSON / .h5 -> .nn text
    from shapeproof.keras.weights import read_weights     # weight files -> arrays in get_weights() order
    from shapeproof.keras.export import build_keras       # an analysed model -> the same model in Keras 3

`export` imports Keras itself (the `keras` extra; set KERAS_BACKEND first); the others need only
NumPy, and h5py for .h5 files.
"""
