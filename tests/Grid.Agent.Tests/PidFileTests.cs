namespace Grid.Agent.Tests;

public sealed class PidFileTests
{
    [Fact]
    public void RoundTripsEntriesAndToleratesAMissingOrDamagedFile()
    {
        var dir = Directory.CreateTempSubdirectory("grid-pids-").FullName;
        try
        {
            Assert.Empty(PidFile.Load(dir));
            PidEntry[] entries = [new(1, 2, 1234, "98765", true), new(3, 1, 42, "7", false)];
            PidFile.Save(dir, entries);
            Assert.Equal(entries, PidFile.Load(dir));

            File.WriteAllText(Path.Combine(dir, PidFile.FileName), "{ torn");
            Assert.Empty(PidFile.Load(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void NodeCredentialsRoundTripAndAreOwnerOnly()
    {
        var dir = Directory.CreateTempSubdirectory("grid-creds-").FullName;
        try
        {
            Assert.Null(NodeCredentials.Load(dir));
            var credentials = new NodeCredentials(new Uri("http://127.0.0.1:5080"), 12, "secret");
            credentials.Save(dir);
            Assert.Equal(credentials, NodeCredentials.Load(dir));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, NodeCredentials.FileName)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
