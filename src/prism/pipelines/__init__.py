"""Kedro pipelines of the project, one folder each."""

#: Catalog name under which nodes receive the project's credentials (``conf/local/credentials.yml``);
#: :class:`prism.hooks.EndpointCredentialsHook` puts them there.
CREDENTIALS_DATASET = "endpoint_credentials"
