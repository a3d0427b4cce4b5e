"""The ``restore`` command line (installed as ``restore.cli``). Each command is a module here with
``register(subparsers)``; heavy imports happen inside the command, so ``restore --help`` is instant."""
