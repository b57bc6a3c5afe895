from stratus.cli.main import cli

cli()
