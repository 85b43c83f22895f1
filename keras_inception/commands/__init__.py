"""The `keras-inception` subcommands, one module each: its flags and `main(argv)`, which turns
them into library calls. keras_inception_cli.py (beside the package) runs them."""
