from procedo.cli import main

main()
