from hapair.cli import main

main()
