from local.simulator.cli import main

main()
