from edgeplane.cli.main import main

main()
