def pytest_configure(config):
    config.addinivalue_line("markers", "desktop: drives real file managers under Xvfb")
