from hapair.entry import main

main()
