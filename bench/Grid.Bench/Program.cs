using Grid.Bench;

return await BenchRunner.RunAsync(args);
