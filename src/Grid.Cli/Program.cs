return await Grid.Cli.GridCli.RunAsync(args);
