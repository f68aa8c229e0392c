from gtmerge.cli import entry

entry()
