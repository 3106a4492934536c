// `import Gossip` brings the SWIM core and the message values too (members, effects, settings, messages):
// the service's API and the codecs are made of them.
@_exported import GossipCore
